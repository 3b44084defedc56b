/**
 * Acks batched per channel (src/acks.ts): acks asked for together leave as one basic.ack with
 * `multiple` for the run from the oldest unsettled delivery, the rest one by one; a delivery still
 * unsettled is never acked by a `multiple`, and acks asked for just before a close are sent first.
 * What the broker settled is checked with a plain client (the queue's ready count) and by
 * consuming again.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import amqplib from 'amqplib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, type Delivery, type GroupPolicy, silentLogger, type WireMessage } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { createTransport } from '../src/index.js';
import type { AmqpTransport } from '../src/transport.js';
import { RABBITMQ_URL, urlWith } from './helpers.js';

const cleanups = cleanupAfterEach();

const require = createRequire(import.meta.url);
const defs = require(`${dirname(require.resolve('amqplib/package.json'))}/lib/defs.js`) as { BasicAck: number };

const policy: GroupPolicy = { maxAttempts: 5, retry: { ...DEFAULT_RETRY, maxAttempts: 5 }, deadLetterTopic: false, concurrency: 32, ephemeral: false };

async function transport(): Promise<AmqpTransport> {
  const t = (await createTransport(new URL(urlWith({ queueExpiresMs: '600000' })), { service: `acks-${randomUUID().slice(0, 6)}`, logger: silentLogger })) as AmqpTransport;
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

/** The basic.ack frames the connection sends from now on, as (deliveryTag, multiple). */
function recordAcks(t: AmqpTransport): { deliveryTag: number; multiple: boolean }[] {
  const connection = t.link.conn!.connection as unknown as { sendMethod: (channel: number, method: number, fields: unknown) => unknown };
  const acks: { deliveryTag: number; multiple: boolean }[] = [];
  const sendMethod = connection.sendMethod;
  connection.sendMethod = function (this: unknown, channel: number, method: number, fields: unknown) {
    if (method === defs.BasicAck) acks.push(fields as { deliveryTag: number; multiple: boolean });
    return sendMethod.call(this, channel, method, fields);
  };
  return acks;
}

const message = (n: number): WireMessage => ({ body: new TextEncoder().encode(`m${n}`), headers: { 'ce-id': `id-${n}` } });
const text = (d: Delivery) => Buffer.from(d.message.body).toString('utf8');

/** Messages ready in the group's queue (not delivered, or requeued), as a plain client sees them. */
async function ready(t: AmqpTransport, topic: string): Promise<number> {
  const conn = await amqplib.connect(RABBITMQ_URL);
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(t.names.groupQueue(topic, 'g'))).messageCount;
  } finally {
    await conn.close();
  }
}

/** A topic with `count` messages stored in group "g", and a consumer of it collecting deliveries. */
async function consumeStored(t: AmqpTransport, count: number) {
  const topic = `acks.${randomUUID().slice(0, 8)}`;
  await t.declareGroup(topic, 'g', policy);
  cleanups.push(() => t.deleteGroup(topic, 'g'));
  await Promise.all(Array.from({ length: count }, (_, n) => t.publish({ topic, message: message(n) })));
  const got = new Collector<Delivery>();
  const consumer = await t.consume(topic, 'g', { prefetch: count, policy }, got.push);
  return { topic, got, consumer };
}

describe('amqp acks', () => {
  it('acks asked for together leave as one basic.ack with multiple, and the broker settles them all', async () => {
    const t = await transport();
    const { topic, got, consumer } = await consumeStored(t, 32);
    const deliveries = await got.waitFor(32);
    const sent = recordAcks(t);
    await Promise.all(deliveries.map((d) => d.ack()));
    await consumer.close(); // unacked deliveries would be requeued now
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.length).toBeLessThan(32);
    expect(sent.some((ack) => ack.multiple)).toBe(true);
    expect(await ready(t, topic)).toBe(0);
  });

  it('a delivery still in a handler is not acked by a multiple: only it comes back', async () => {
    const t = await transport();
    const { topic, got, consumer } = await consumeStored(t, 5);
    const deliveries = await got.waitFor(5);
    const held = deliveries[0]!; // the oldest: every other ack is behind it
    const sent = recordAcks(t);
    await Promise.all(deliveries.filter((d) => d !== held).map((d) => d.ack()));
    await consumer.close(); // returns the held one to the queue
    expect(sent.length).toBe(4); // behind the held one: one by one
    expect(sent.every((ack) => !ack.multiple)).toBe(true);
    const again = new Collector<Delivery>();
    const second = await t.consume(topic, 'g', { prefetch: 5, policy }, again.push);
    cleanups.push(() => second.close());
    const [back] = await again.waitFor(1);
    expect(text(back!)).toBe(text(held));
    await back!.ack();
    await second.close();
    expect(again.items).toHaveLength(1);
    expect(await ready(t, topic)).toBe(0);
  });

  it('acks asked for right before the consumer closes are sent before its channel closes', async () => {
    const t = await transport();
    const { topic, got, consumer } = await consumeStored(t, 8);
    const deliveries = await got.waitFor(8);
    for (const d of deliveries) void d.ack();
    await consumer.close(); // same tick as the acks: before their batch would go out
    expect(await ready(t, topic)).toBe(0);
  });
});
