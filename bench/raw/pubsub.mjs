/**
 * Google Cloud Pub/Sub with @google-cloud/pubsub's own high-level client, as an app would use it
 * (the adapter uses its v1 clients): a topic and one subscription per group, publishes awaiting
 * the server's message id (client batching capped at 64 messages / 1 ms, so a sequential
 * publish does not wait out the default 10 ms), streaming pull with flow control at the
 * prefetch core asks for, ack after the handler. Request/reply: the same reply-topic protocol
 * the adapter uses (Pub/Sub has no native one).
 */
import { randomUUID } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { PubSub } from '@google-cloud/pubsub';
import { eventAttributes, headerBinding, replyAttributes } from '../lib/cloudevents.mjs';
import { pool, prefetchFor } from '../lib/pool.mjs';

const BATCHING = { maxMessages: 64, maxMilliseconds: 1 };

/** --raw-wire cloudevents: the attributes as the adapter sends them (each ce-* an attribute, and content-type). */
const binding = headerBinding('ce-', { id: 'id', replyTo: 'replyTo', inReplyTo: 'inReplyTo' });
const pubsubAttributes = binding.headers;

export async function pubsubSide(url, { wire = 'plain' } = {}) {
  const ce = wire === 'cloudevents';
  const names = binding.names(wire);
  const parsed = new URL(url);
  const emulator = parsed.searchParams.get('emulator');
  const [host, port] = emulator ? [emulator.slice(0, emulator.lastIndexOf(':')), Number(emulator.slice(emulator.lastIndexOf(':') + 1))] : [undefined, undefined];
  const client = new PubSub({
    projectId: parsed.hostname,
    ...(emulator ? { servicePath: host, port, sslCreds: credentials.createInsecure(), universeDomain: 'googleapis.com', emulatorMode: true } : {}),
  });
  const topics = new Map();
  const subscriptions = new Set();
  const prepared = new Set();
  const topicOf = async (name) => {
    let topic = topics.get(name);
    if (!topic) {
      [topic] = await client.createTopic(`raw-${name}`);
      topic.setPublishOptions({ batching: BATCHING });
      topics.set(name, topic);
    }
    return topic;
  };
  const subscription = async (name, concurrency) => {
    const topic = await topicOf(name);
    const [sub] = await topic.createSubscription(`raw-${name}-bench`, { ackDeadlineSeconds: 30 });
    sub.setOptions({ flowControl: { maxMessages: prefetchFor(concurrency), allowExcessMessages: false }, batching: BATCHING });
    subscriptions.add(sub);
    return sub;
  };
  const consume = async (name, concurrency, onMessage) => {
    const sub = await subscription(name, concurrency);
    const run = pool(concurrency);
    sub.on('message', (m) =>
      run(async () => {
        await onMessage(m);
        m.ack();
      }),
    );
    sub.on('error', () => undefined);
    return async () => {
      await sub.close();
    };
  };
  const pending = new Map();
  let inbox;
  const replyTopic = () =>
    (inbox ??= (async () => {
      const name = `replies-${randomUUID().slice(0, 8)}`;
      await consume(name, 256, async (m) => {
        const id = m.attributes[names.inReplyTo];
        const resolve = pending.get(id);
        pending.delete(id);
        resolve?.(JSON.parse(m.data.toString('utf8')));
      });
      return name;
    })());
  const publish = async (name, value, attributes) => (await topicOf(name)).publishMessage({ data: Buffer.from(JSON.stringify(value)), attributes });
  return {
    label: 'raw',
    // Publish-only runs prepare the same topic once per run (one topic per side): one subscription for them all.
    async prepare(name) {
      if (prepared.has(name)) return;
      await subscription(name, 1);
      prepared.add(name);
    },
    publish: (name, body) => publish(name, body, ce ? pubsubAttributes(eventAttributes(name)) : undefined),
    consume: (name, concurrency, handler) => consume(name, concurrency, (m) => handler(JSON.parse(m.data.toString('utf8')))),
    serve: (name, concurrency, answer) =>
      consume(name, concurrency, async (m) => {
        const reply = await answer(JSON.parse(m.data.toString('utf8')));
        const requestId = m.attributes[names.id];
        await publish(m.attributes[names.replyTo], reply, ce ? pubsubAttributes(replyAttributes(name, requestId)) : { [names.inReplyTo]: requestId });
      }),
    async request(name, body) {
      const replyTo = await replyTopic();
      const attributes = ce ? eventAttributes(name) : { id: randomUUID() };
      const reply = new Promise((resolve) => pending.set(attributes.id, resolve));
      await publish(name, body, { ...(ce ? pubsubAttributes(attributes) : { [names.id]: attributes.id }), [names.replyTo]: replyTo });
      return reply;
    },
    async close() {
      for (const sub of subscriptions) {
        await sub.close().catch(() => undefined);
        await sub.delete().catch(() => undefined);
      }
      for (const topic of topics.values()) await topic.delete().catch(() => undefined);
      await client.close();
    },
  };
}
