/**
 * Kafka with kafkajs, the same guarantees as the adapter: idempotent producer (acks=all, one
 * request in flight), topics with the adapter's default 4 partitions, consumer groups with manual
 * offset commits after the handlers of a batch finished. "64 in flight" is explicit batches of 64
 * (one producer.send each), as an app that batches by hand does. Request/reply: the same
 * reply-topic protocol the adapter uses (Kafka has no native one): the requester consumes a
 * private reply topic, the server produces each reply there.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { eventAttributes, headerBinding, replyAttributes } from '../lib/cloudevents.mjs';
import { decode, encode, pool, prefetchFor } from '../lib/pool.mjs';

const PARTITIONS = 4;
const MAX_WAIT_MS = 250; // the adapter's maxWaitTime default

/** A record's headers as text (each header's first value): what a consumer of the binding reads. */
function attributesOf(headers) {
  const out = {};
  for (const name in headers) {
    const value = headers[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

/** --raw-wire cloudevents: the attributes as the adapter sends them (CloudEvents Kafka binding). */
const binding = headerBinding('ce_', { id: 'id', replyTo: 'reply-to', inReplyTo: 'in-reply-to' });
const kafkaHeaders = binding.headers;

export async function kafkaSide(url, { wire = 'plain' } = {}) {
  const ce = wire === 'cloudevents';
  const names = binding.names(wire);
  const record = (topic, value) => (ce ? { value, headers: kafkaHeaders(eventAttributes(topic)) } : { value });
  const brokers = new URL(url).host.split(',');
  const kafka = new Kafka({ clientId: 'bench-raw', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const topics = new Set();
  const consumers = new Set();
  const declare = async (topic) => {
    if (topics.has(topic)) return;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
    topics.add(topic);
  };
  const consume = async (topic, concurrency, onMessage) => {
    await declare(topic);
    const consumer = kafka.consumer({ groupId: `bench-raw-${randomUUID()}`, maxWaitTimeInMs: MAX_WAIT_MS, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    consumers.add(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const run = pool(concurrency);
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: Math.min(prefetchFor(concurrency), 32),
      eachBatch: async ({ batch }) => {
        await Promise.all(batch.messages.map((message) => new Promise((resolve) => run(() => onMessage(message).finally(resolve)))));
        const last = batch.messages.at(-1);
        if (last) await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
      },
    });
    await joined;
    return async () => {
      await consumer.disconnect();
      consumers.delete(consumer);
    };
  };
  const send = (topic, messages) => producer.send({ topic, acks: -1, messages });
  const pending = new Map();
  let inbox;
  const replyTopic = () =>
    (inbox ??= (async () => {
      const topic = `bench.raw.replies.${randomUUID().slice(0, 8)}`;
      await consume(topic, 256, async (message) => {
        const id = message.headers?.[names.inReplyTo]?.toString();
        const resolve = pending.get(id);
        pending.delete(id);
        resolve?.(decode(message.value));
      });
      return topic;
    })());
  return {
    label: 'raw',
    prepare: declare,
    async publish(topic, body) {
      await declare(topic);
      await send(topic, [record(topic, encode(body))]);
    },
    async publishBatch(topic, bodies) {
      await declare(topic);
      await send(
        topic,
        bodies.map((b) => record(topic, encode(b))),
      );
    },
    // With the attributes on the wire, the handler gets them read, as a consumer of the binding
    // reads them (kafkajs hands headers over as bytes; Switchyard decodes them for every message).
    consume: (topic, concurrency, handler) =>
      consume(topic, concurrency, (message) => Promise.resolve(handler(decode(message.value), ce ? attributesOf(message.headers) : undefined))),
    serve: (topic, concurrency, answer) =>
      consume(topic, concurrency, async (message) => {
        const reply = await answer(decode(message.value));
        const requestId = message.headers[names.id];
        const headers = ce ? kafkaHeaders(replyAttributes(topic, requestId.toString())) : { [names.inReplyTo]: requestId };
        await send(message.headers[names.replyTo].toString(), [{ value: encode(reply), headers }]);
      }),
    async request(topic, body) {
      const replyTo = await replyTopic();
      await declare(topic);
      const attributes = ce ? eventAttributes(topic) : { id: randomUUID() };
      const reply = new Promise((resolve) => pending.set(attributes.id, resolve));
      const headers = ce ? kafkaHeaders(attributes) : { [names.id]: attributes.id };
      await send(topic, [{ value: encode(body), headers: { ...headers, [names.replyTo]: replyTo } }]);
      return reply;
    },
    /** Remove the named topics that exist: what the Switchyard side leaves once its groups are removed. */
    async removeTopics(names) {
      const existing = new Set(await admin.listTopics());
      const left = names.filter((name) => existing.has(name));
      if (left.length > 0) await admin.deleteTopics({ topics: left });
    },
    async close() {
      for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
      await producer.disconnect();
      await admin.deleteTopics({ topics: [...topics] }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}
