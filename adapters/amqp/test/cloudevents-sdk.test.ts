/** The official CloudEvents JS SDK ⇄ Switchyard over RabbitMQ (shared assertions in @switchyard/conformance/cloudevents). */
import amqplib from 'amqplib';
import { type CloudEvent, HTTP } from 'cloudevents';
import { createBus, silentLogger } from '@switchyard/core';
import { cleanupAfterEach } from '@switchyard/conformance';
import { describeCloudEventsInterop } from '@switchyard/conformance/cloudevents';
import { RABBITMQ_URL, urlWith } from './helpers.js';

const EXCHANGE = 'switchyard.topics';
const cleanups = cleanupAfterEach();

async function channel() {
  const conn = await amqplib.connect(RABBITMQ_URL);
  cleanups.push(() => conn.close());
  return conn.createConfirmChannel();
}

describeCloudEventsInterop({
  name: 'rabbitmq',
  async bus(service) {
    const bus = await createBus({ url: urlWith({ queueExpiresMs: '600000' }), service, logger: silentLogger });
    cleanups.push(() => bus.close({ drainTimeoutMs: 1000 }));
    return bus;
  },
  async sendWithSdk(topic, event, mode) {
    // The SDK has no AMQP binding: its HTTP form, with ce-<attr> as cloudEvents_<attr> application properties.
    const { headers, body } = mode === 'binary' ? HTTP.binary(event) : HTTP.structured(event);
    const properties: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined && name.startsWith('ce-')) properties[`cloudEvents_${name.slice(3)}`] = String(value);
    }
    const ch = await channel();
    await new Promise<void>((resolve, reject) =>
      ch.publish(EXCHANGE, topic, Buffer.from(String(body)), { contentType: String(headers['content-type']), headers: properties }, (err: unknown) =>
        err ? reject(err) : resolve(),
      ),
    );
  },
  async receiveWithSdk(topic) {
    const ch = await channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, EXCHANGE, topic);
    let decoded: ((event: CloudEvent<unknown> | Error) => void) | undefined;
    const first = new Promise<CloudEvent<unknown> | Error>((resolve) => (decoded = resolve));
    await ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        const headers: Record<string, string> = { 'content-type': String(msg.properties.contentType) };
        for (const [name, value] of Object.entries(msg.properties.headers ?? {})) {
          const match = /^cloudEvents[_:](.+)$/.exec(name);
          if (match) headers[`ce-${match[1]}`] = String(value);
        }
        try {
          decoded?.(HTTP.toEvent({ headers, body: msg.content.toString('utf8') }) as CloudEvent<unknown>);
        } catch (err) {
          decoded?.(err as Error);
        }
      },
      { noAck: true },
    );
    return async () => {
      const event = await first;
      if (event instanceof Error) throw event;
      return event;
    };
  },
});
