/**
 * NATS with nats.js, the same guarantees as the adapter: a JetStream stream per topic (file
 * storage, interest retention), publishes awaiting the stream's ack, a durable pull consumer per
 * group with explicit acks confirmed by the server (ackAck, as the adapter settles), at most the
 * prefetch core asks for unacked. Request/reply: the fastest raw protocol, core NATS request
 * with an inbox (nc.request) and a queue-group subscription answering.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { eventAttributes, replyAttributes } from '../lib/cloudevents.mjs';
import { decode, encode, pool, prefetchFor } from '../lib/pool.mjs';

const streamOf = (topic) => `raw_${topic.replace(/\W/g, '_')}`;

/** A message's headers as text (each header's first value): what a consumer of the binding reads. */
function attributesOf(headers) {
  const out = {};
  if (headers !== undefined) for (const [name, values] of headers) out[name] = values[0];
  return out;
}

/** --raw-wire cloudevents: the attributes as the adapter sends them (CloudEvents NATS binding), through nats.js's headers. */
function withAttributes(attributes) {
  const headers = natsHeaders();
  for (const name in attributes) headers.append(`ce-${name}`, attributes[name]);
  headers.append('ce-datacontenttype', 'application/json');
  return { headers };
}

export async function natsSide(url, { wire = 'plain' } = {}) {
  const ce = wire === 'cloudevents';
  const nc = await connect({ servers: new URL(url).host });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const streams = new Set();
  const declare = async (topic) => {
    const stream = streamOf(topic);
    if (!streams.has(stream)) {
      await jsm.streams.add({ name: stream, subjects: [topic], retention: RetentionPolicy.Interest, storage: StorageType.File });
      streams.add(stream);
    }
    return stream;
  };
  const group = async (topic, concurrency) => {
    const stream = await declare(topic);
    const name = 'bench';
    await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: prefetchFor(concurrency) });
    return js.consumers.get(stream, name);
  };
  return {
    label: 'raw',
    async prepare(topic) {
      await group(topic, 1);
    },
    async publish(topic, body) {
      await js.publish(topic, encode(body), ce ? withAttributes(eventAttributes(topic)) : undefined);
    },
    async consume(topic, concurrency, handler) {
      const consumer = await group(topic, concurrency);
      const messages = await consumer.consume({ max_messages: prefetchFor(concurrency) });
      const run = pool(concurrency);
      const loop = (async () => {
        for await (const m of messages) {
          // The handler slot is free once the handler is done; the confirmed ack follows.
          run(async () => {
            // With the attributes on the wire, read them, as a consumer of the binding does
            // (nats.js parses the header block only when asked; Switchyard reads it for every message).
            await handler(decode(m.data), ce ? attributesOf(m.headers) : undefined);
            void m.ackAck().catch(() => undefined);
          });
        }
      })();
      return async () => {
        await messages.close();
        await loop;
      };
    },
    async serve(topic, concurrency, answer) {
      const run = pool(concurrency);
      const reply = (msg, body) => msg.respond(encode(body), ce ? withAttributes(replyAttributes(topic, msg.headers?.get('ce-id'))) : undefined);
      const sub = nc.subscribe(topic, { queue: 'bench', callback: (_err, msg) => run(async () => reply(msg, await answer(decode(msg.data)))) });
      await nc.flush();
      return async () => sub.unsubscribe();
    },
    request: async (topic, body) => decode((await nc.request(topic, encode(body), { timeout: 30_000, ...(ce ? withAttributes(eventAttributes(topic)) : {}) })).data),
    async close() {
      for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
      await nc.drain();
    },
  };
}
