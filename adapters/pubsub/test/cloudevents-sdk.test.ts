/** The official CloudEvents JS SDK ⇄ Switchyard over Pub/Sub (shared assertions in @switchyard/conformance/cloudevents). */
import { randomUUID } from 'node:crypto';
import type { Message as PubSubMessage } from '@google-cloud/pubsub';
import { type CloudEvent, HTTP } from 'cloudevents';
import { createBus, silentLogger } from '@switchyard/core';
import { cleanupAfterEach } from '@switchyard/conformance';
import { describeCloudEventsInterop } from '@switchyard/conformance/cloudevents';
import { topicId } from '../src/names.js';
import { PUBSUB_URL, plainClient } from './helpers.js';

const pubsub = plainClient();
const cleanups = cleanupAfterEach();

describeCloudEventsInterop({
  name: 'pubsub',
  async bus(service) {
    const bus = await createBus({ url: PUBSUB_URL, service, logger: silentLogger });
    cleanups.push(() => bus.close({ drainTimeoutMs: 1000 }));
    return bus;
  },
  async sendWithSdk(topic, event, mode) {
    // The Pub/Sub binding's attributes are the HTTP binding's header names (ce-<attr>, content-type).
    const { headers, body } = mode === 'binary' ? HTTP.binary(event) : HTTP.structured(event);
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) attributes[name] = String(value);
    await pubsub.topic(topicId(topic)).publishMessage({ data: Buffer.from(String(body)), attributes });
  },
  async receiveWithSdk(topic) {
    const [created] = await pubsub.createTopic(topicId(topic));
    const [subscription] = await created.createSubscription(`plain-${randomUUID().slice(0, 8)}`);
    cleanups.push(() => subscription.delete());
    cleanups.push(() => subscription.close());
    const first = new Promise<CloudEvent<unknown> | Error>((resolve) => {
      subscription.on('message', (m: PubSubMessage) => {
        m.ack();
        try {
          resolve(HTTP.toEvent({ headers: { ...m.attributes }, body: m.data.toString('utf8') }) as CloudEvent<unknown>);
        } catch (err) {
          resolve(err as Error);
        }
      });
    });
    return async () => {
      const event = await first;
      if (event instanceof Error) throw event;
      return event;
    };
  },
});
