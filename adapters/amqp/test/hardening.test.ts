/**
 * Issue 8 on a real RabbitMQ: oversized metadata from a foreign producer or from the app must
 * never close the connection, wedge amqplib's confirm bookkeeping or loop a message.
 */
import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createBus, silentLogger, type Bus, type Message } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { RABBITMQ_URL, urlWith } from './helpers.js';

const EXCHANGE = 'switchyard.topics';
const cleanups = cleanupAfterEach();

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
  it.each([
    { label: '60 KiB', bytes: 61_440 },
    // A dead-letter copy with every header and the x-switchyard-* ones added cannot be encoded.
    { label: 'as large as amqplib can send', bytes: 'max' as const },
  ])('a foreign message with a $label header and bad JSON is dead-lettered once without that header; the connection stays up and later messages flow', async ({ bytes }) => {
    const topic = `hard.bighdr.${uid()}`;
    const group = `g-${uid()}`;
    const watcher = await bus();
    const dead = new Collector<Message>();
    await watcher.subscribe(`${topic}.dlq`, (m) => dead.push(m), { group: `dlq-${uid()}` });
    const sub = await bus();
    const handled = new Collector<Message>();
    await sub.subscribe(topic, (m) => handled.push(m), { group, retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50, factor: 2 } });

    const publish = await plainPublisher();
    const poisonId = `evt-${uid()}`;
    const headers = foreignHeaders(poisonId, bytes);
    expect(tableBytes(headers)).toBeLessThanOrEqual(AMQPLIB_TABLE);
    const badJson = Buffer.from('{"orderId": "o-1", oops');
    await publish(topic, badJson, { persistent: true, contentType: 'application/json', headers });

    const [copy] = await dead.waitFor(1, 30_000, 'dead letters');
    expect(copy!.id).toBe(poisonId);
    expect(copy!.headers['x-switchyard-dropped-headers']).toBe('big');
    expect(copy!.headers['big']).toBeUndefined();
    expect(copy!.headers['keep']).toBe('me');
    expect(copy!.headers['tenant']).toBe('acme');
    expect(copy!.headers['x-switchyard-original-content-type']).toBe('application/json');
    expect(copy!.headers['x-switchyard-original-topic']).toBe(topic);
    expect(copy!.headers['x-switchyard-group']).toBe(group);
    expect(copy!.headers['x-switchyard-error']).toBeTruthy();
    expect(copy!.contentType).toBe('application/octet-stream');
    expect(Buffer.from(copy!.body as Uint8Array).equals(badJson)).toBe(true);

    // Later messages flow on the same connection.
    for (let n = 0; n < 5; n++) await sub.publish(topic, { n });
    await handled.waitFor(5);
    expect(handled.items.map((m) => (m.body as { n: number }).n).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(await reconnects(sub)).toBe(0);
    expect(await reconnects(watcher)).toBe(0);
    expect((await sub.health()).ok).toBe(true);

    // Settled for good: once the subscriber is gone, the group's queue holds nothing, and one
    // marker through the DLQ arrives after any second copy would have.
    await sub.close();
    const probe = await bus();
    expect(await probe.pull(topic, { group, max: 10, waitMs: 500 })).toEqual([]);
    await probe.publish(`${topic}.dlq`, { marker: true });
    await dead.waitFor(2);
    expect(dead.items.filter((m) => m.id === poisonId)).toHaveLength(1);
    expect(handled.items.some((m) => m.id === poisonId)).toBe(false);
  });

  it('a publish with a 100 KB header or a 70 KB correlationId is a ValidationError; later publishes on the bus confirm and arrive, nothing stray', async () => {
    const topic = `hard.refuse.${uid()}`;
    const group = `g-${uid()}`;
    // A short publish timeout: a confirm misattributed to a refused publish would show as a timeout soon.
    const b = await bus({ publishTimeoutMs: '5000' });
    const got = new Collector<Message>();
    await b.subscribe(topic, (m) => got.push(m), { group, concurrency: 4 });

    await expect(b.publish(topic, { n: -1 }, { headers: { big: 'h'.repeat(100_000) } })).rejects.toMatchObject({ code: 'ERR_VALIDATION', name: 'ValidationError' });
    await expect(b.publish(topic, { n: -2 }, { correlationId: 'c'.repeat(70_000) })).rejects.toMatchObject({ code: 'ERR_VALIDATION', name: 'ValidationError' });

    const ids = new Set<string>();
    for (let n = 0; n < 20; n++) ids.add((await b.publish(topic, { n })).id);
    const marker = (await b.publish(topic, { n: 'marker' })).id;
    await got.waitFor(21);
    const received = got.items.map((m) => m.id);
    expect(received.filter((id) => id !== marker).sort()).toEqual([...ids].sort());
    expect(got.items.map((m) => (m.body as { n: unknown }).n)).not.toContain(-1);
    expect(got.items.map((m) => (m.body as { n: unknown }).n)).not.toContain(-2);
    expect(await reconnects(b)).toBe(0);
    expect((await b.health()).ok).toBe(true);
  });

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

  it('a producer-set x-switchyard-delivery-count is ignored: the message gets its retries, attempt counts from 1', async () => {
    const b = await bus();
    const topic = `hard.forged.${uid()}`;
    const attempts = new Collector<number>();
    await b.subscribe(
      topic,
      (m) => {
        attempts.push(m.attempt);
        if (m.attempt < 2) throw new Error('first try fails');
      },
      { retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50, factor: 2 } },
    );
    const publish = await plainPublisher();
    await publish(topic, Buffer.from('{"x":1}'), { contentType: 'application/json', headers: { 'x-switchyard-delivery-count': '99' }, persistent: true });
    await attempts.waitFor(2);
    expect(attempts.items).toEqual([1, 2]);
  });
});

describe('amqp publish path', () => {
  it('a publish the broker refuses because its exchange was deleted declares the topology again and is confirmed, on the same connection', async () => {
    const prefix = `hard-x-${uid()}`;
    const b = await bus({ prefix });
    const topic = `hard.gone.${uid()}`;
    const got = new Collector<number>();
    await b.subscribe(topic, (m) => got.push((m.body as { n: number }).n));
    await b.publish(topic, { n: 1 });
    await got.waitFor(1);
    const conn = await amqplib.connect(RABBITMQ_URL);
    cleanups.push(() => conn.close());
    const ch = await conn.createChannel();
    await ch.deleteExchange(`${prefix}.topics`);
    // The broker closes the publisher channel (404): the next try, on a fresh channel, declares
    // the exchanges again first and is confirmed.
    await b.publish(topic, { n: 2 });
    expect(await ch.checkExchange(`${prefix}.topics`)).toBeDefined();
    expect(await reconnects(b)).toBe(0);
    await ch.deleteExchange(`${prefix}.topics`);
    await ch.deleteExchange(`${prefix}.delay`);
  });
});
