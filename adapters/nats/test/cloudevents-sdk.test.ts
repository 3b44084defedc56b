/** The official CloudEvents JS SDK ⇄ Switchyard over NATS JetStream (shared assertions in @switchyard/conformance/cloudevents). */
import { jetstream } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { type CloudEvent, HTTP } from 'cloudevents';
import { afterAll } from 'vitest';
import { createBus, silentLogger } from '@switchyard/core';
import { cleanupAfterEach } from '@switchyard/conformance';
import { describeCloudEventsInterop } from '@switchyard/conformance/cloudevents';
import { NATS_URL, removeTestStreams } from './helpers.js';

const started = new Date();
afterAll(() => removeTestStreams(started, ['ce.']));
const cleanups = cleanupAfterEach();

async function plain(): Promise<NatsConnection> {
  const nc = await connect({ servers: new URL(NATS_URL).host });
  cleanups.push(() => nc.close());
  return nc;
}

describeCloudEventsInterop({
  name: 'nats',
  async bus(service) {
    const bus = await createBus({ url: NATS_URL, service, logger: silentLogger });
    cleanups.push(() => bus.close({ drainTimeoutMs: 1000 }));
    return bus;
  },
  async sendWithSdk(topic, event, mode) {
    // The SDK has no NATS binding: its HTTP form is the NATS binding's header form (values percent-encoded).
    const { headers, body } = mode === 'binary' ? HTTP.binary(event) : HTTP.structured(event);
    const h = natsHeaders();
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) h.set(name === 'content-type' ? 'Content-Type' : name, encodeURIComponent(String(value)));
    }
    await jetstream(await plain()).publish(`switchyard.${topic}`, String(body), { headers: h });
  },
  async receiveWithSdk(topic) {
    // JetStream publishes are routed on their subject too: a core subscription sees them.
    const nc = await plain();
    const sub = nc.subscribe(`switchyard.${topic}`, { max: 1 });
    await nc.flush();
    return async () => {
      for await (const msg of sub) {
        const headers: Record<string, string> = {};
        for (const name of msg.headers?.keys() ?? []) {
          const value = decodeURIComponent(msg.headers!.get(name));
          headers[name.toLowerCase() === 'ce-datacontenttype' ? 'content-type' : name.toLowerCase()] = value;
        }
        return HTTP.toEvent({ headers, body: msg.string() }) as CloudEvent<unknown>;
      }
      throw new Error(`The plain subscription to switchyard.${topic} ended without a message.`);
    };
  },
});
