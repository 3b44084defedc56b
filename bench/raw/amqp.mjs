/**
 * RabbitMQ with amqplib, the same guarantees as the adapter: durable quorum queues, persistent
 * messages, publisher confirms (each publish awaits its own confirm), manual ack with the
 * prefetch core asks for. Request/reply: the fastest raw protocol, direct reply-to
 * (amq.rabbitmq.reply-to) with the request on a plain channel; TCP_NODELAY on.
 */
import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import { eventAttributes, prefixed, replyAttributes } from '../lib/cloudevents.mjs';
import { decode, encode, pool, prefetchFor } from '../lib/pool.mjs';

const QUORUM = { durable: true, arguments: { 'x-queue-type': 'quorum' } };

/** --raw-wire cloudevents: the attributes as the adapter sends them (headers, and message-id / correlation-id / timestamp). */
const amqpMetadata = (attributes) => ({
  headers: prefixed(attributes, 'cloudEvents_'),
  messageId: attributes.id,
  correlationId: attributes.correlationid,
  timestamp: Math.floor(Date.now() / 1000),
});

export async function amqpSide(url, { wire = 'plain' } = {}) {
  const ce = wire === 'cloudevents';
  const conn = await amqplib.connect(url.replace(/^amqp:\/\/\//, 'amqp://'), { noDelay: true });
  const confirm = await conn.createConfirmChannel();
  const plain = await conn.createChannel();
  const queues = new Set();
  const declare = async (queue) => {
    if (queues.has(queue)) return;
    await plain.assertQueue(queue, QUORUM);
    queues.add(queue);
  };
  let replies;
  const pending = new Map();
  const replyChannel = async () => {
    if (!replies) {
      replies = await conn.createChannel();
      await replies.consume(
        'amq.rabbitmq.reply-to',
        (msg) => {
          const resolve = pending.get(msg.properties.correlationId);
          pending.delete(msg.properties.correlationId);
          resolve?.(decode(msg.content));
        },
        { noAck: true },
      );
    }
    return replies;
  };
  const consumer = async (queue, concurrency, onMessage) => {
    await declare(queue);
    const ch = await conn.createChannel();
    await ch.prefetch(prefetchFor(concurrency));
    const run = pool(concurrency);
    const { consumerTag } = await ch.consume(queue, (msg) => run(() => onMessage(ch, msg)), { noAck: false });
    return async () => {
      await ch.cancel(consumerTag);
      await ch.close();
    };
  };
  return {
    label: 'raw',
    prepare: declare,
    async publish(queue, body) {
      await declare(queue);
      await new Promise((resolve, reject) =>
        confirm.sendToQueue(queue, encode(body), { persistent: true, contentType: 'application/json', ...(ce ? amqpMetadata(eventAttributes(queue)) : {}) }, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    },
    consume: (queue, concurrency, handler) =>
      consumer(queue, concurrency, async (ch, msg) => {
        await handler(decode(msg.content));
        ch.ack(msg);
      }),
    serve: (queue, concurrency, answer) =>
      consumer(queue, concurrency, async (ch, msg) => {
        const reply = await answer(decode(msg.content));
        const metadata = ce ? amqpMetadata(replyAttributes(queue, msg.properties.messageId)) : { correlationId: msg.properties.correlationId };
        ch.sendToQueue(msg.properties.replyTo, encode(reply), { ...metadata, contentType: 'application/json' });
        ch.ack(msg);
      }),
    async request(queue, body) {
      const ch = await replyChannel();
      const metadata = ce ? amqpMetadata(eventAttributes(queue)) : { correlationId: randomUUID() };
      return new Promise((resolve) => {
        pending.set(metadata.correlationId, resolve);
        ch.sendToQueue(queue, encode(body), { replyTo: 'amq.rabbitmq.reply-to', ...metadata, contentType: 'application/json' });
      });
    },
    async close() {
      const ch = await conn.createChannel();
      for (const queue of queues) await ch.deleteQueue(queue).catch(() => undefined);
      await conn.close();
    },
  };
}
