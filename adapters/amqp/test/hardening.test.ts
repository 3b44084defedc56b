/**
 * Issue 8 on a real RabbitMQ: oversized metadata from a foreign producer or from the app must
 * never close the connection, wedge amqplib's confirm bookkeeping or loop a message.
 */
import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { createBus, silentLogger, type Bus } from '@switchyard/core';
import { Collector } from '@switchyard/conformance';
import { RABBITMQ_URL, urlWith } from './helpers.js';

const EXCHANGE = 'switchyard.topics';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const uid = () => randomUUID().slice(0, 8);

async function bus(options: Record<string, string> = {}): Promise<Bus> {
  const b = await createBus({ url: urlWith({ queueExpiresMs: '600000', ...options }), service: `hard-${uid()}`, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 1000 }));
  return b;
}

async function reconnects(b: Bus): Promise<unknown> {
  return (await b.health()).details['reconnects'];
}

/** A plain amqplib publisher with confirms, as another team's service would use. */
async function plainPublisher() {
  const conn = await amqplib.connect(RABBITMQ_URL);
  cleanups.push(() => conn.close());
  const ch = await conn.createConfirmChannel();
  return (topic: string, content: Buffer, options: amqplib.Options.Publish) =>
    new Promise<void>((resolve, reject) => ch.publish(EXCHANGE, topic, content, options, (err: unknown) => (err ? reject(err) : resolve())));
}

/** What amqplib writes for a table of string headers (see src/wire.ts), computed independently here. */
function tableBytes(headers: Record<string, string>): number {
  return Object.entries(headers).reduce((n, [k, v]) => n + 1 + Buffer.byteLength(k) + 1 + 4 + Buffer.byteLength(v), 4);
}

/** amqplib's fixed header table buffer: a plain amqplib client cannot send more. */
const AMQPLIB_TABLE = 65_536;

/** Headers of a foreign message with one big header `big` of `bytes` bytes, or as large as a plain client can send. */
function foreignHeaders(id: string, bytes: number | 'max'): Record<string, string> {
  const small: Record<string, string> = {
    'cloudEvents:specversion': '1.0',
    'cloudEvents:id': id,
    'cloudEvents:type': 'com.example.legacy',
    'cloudEvents:source': '/legacy/java-service',
    keep: 'me',
    tenant: 'acme',
  };
  const fixed = tableBytes({ ...small, big: '' });
  const size = bytes === 'max' ? AMQPLIB_TABLE - fixed - 8 : bytes;
  return { ...small, big: 'b'.repeat(size) };
}

describe('amqp hardening (issue 8)', () => {
  it('a foreign message too big to pass through a delay bucket is redelivered at once instead of wedging the publisher; publishes after it confirm', async () => {
    const topic = `hard.nack.${uid()}`;
    const group = `g-${uid()}`;
    const b = await bus({ publishTimeoutMs: '5000' });
    const attempts = new Collector<number>();
    const others = new Collector<number>();
    const id = `evt-${uid()}`;
    await b.subscribe(
      topic,
      (m) => {
        if (m.id !== id) return others.push((m.body as { n: number }).n);
        attempts.push(m.attempt);
        if (m.attempt === 1) throw new Error('first attempt fails');
      },
      { group, retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 100, factor: 1 } },
    );
    const publish = await plainPublisher();
    // Fits for the plain client, but not with the delivery-count and delay-bucket headers the
    // retry adds to pass it through a delay bucket.
    const headers = foreignHeaders(id, 'max');
    await publish(topic, Buffer.from(JSON.stringify({ ok: true })), { persistent: true, contentType: 'application/json', headers });
    await attempts.waitFor(2, 30_000, 'attempts');
    expect(attempts.items).toEqual([1, 2]);

    // The publisher channel's confirms still line up: each publish resolves with its own confirm.
    const started = Date.now();
    for (let n = 0; n < 20; n++) await b.publish(topic, { n });
    expect(Date.now() - started).toBeLessThan(5000);
    await others.waitFor(20);
    expect(others.items.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(await reconnects(b)).toBe(0);
  });
});
