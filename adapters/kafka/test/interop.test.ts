/**
 * CloudEvents Kafka binding interop: a plain kafkajs client that follows the binding talks to
 * Switchyard both ways.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { createBus, memoryIdempotencyStore, silentLogger, type Bus, type Message } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { brokersOf, KAFKA_URL } from './helpers.js';

const kafka = new Kafka({ clientId: 'interop-test', brokers: brokersOf(KAFKA_URL), logLevel: logLevel.NOTHING });
const cleanups = cleanupAfterEach();

async function bus(service: string): Promise<Bus> {
  const b = await createBus({ url: KAFKA_URL, service, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 1000 }));
  return b;
}

const uid = () => randomUUID().slice(0, 8);

describe('kafka interop (CloudEvents Kafka binding)', () => {
  it('a plain kafkajs producer using ce_ headers reaches a Switchyard subscriber', async () => {
    const topic = `interop.in.${uid()}`;
    const sub = await bus(`interop-in-${uid()}`);
    const got = new Collector<Message>();
    await sub.subscribe(topic, (m) => got.push(m));

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({
      topic,
      acks: -1,
      messages: [
        {
          key: 'order-7',
          value: JSON.stringify({ orderId: 'o-7', total: 12.5 }),
          headers: {
            ce_specversion: '1.0',
            ce_id: 'evt-123',
            ce_type: 'com.example.order.placed',
            ce_source: '/legacy/java-service',
            ce_time: '2024-05-01T12:00:00.000Z',
            ce_correlationid: 'corr-9',
            'content-type': 'application/json',
            tenant: 'acme',
          },
        },
        // No CloudEvents headers at all: still delivered, as bytes, with a stable derived id.
        { value: Buffer.from([1, 2, 3]) },
      ],
    });
    const items = await got.waitFor(2);
    const ce = items.find((m) => m.id === 'evt-123')!;
    expect(ce).toBeDefined();
    expect(ce.body).toEqual({ orderId: 'o-7', total: 12.5 });
    expect(ce.key).toBe('order-7');
    expect(ce.correlationId).toBe('corr-9');
    expect(ce.contentType).toBe('application/json');
    expect(ce.timestamp.toISOString()).toBe('2024-05-01T12:00:00.000Z');
    expect(ce.headers).toEqual({ tenant: 'acme' });
    const raw = items.find((m) => m.id !== 'evt-123')!;
    expect(raw.id).toMatch(/^sha256-/);
    expect(raw.contentType).toBe('application/octet-stream');
    expect(Buffer.from(raw.body as Uint8Array).equals(Buffer.from([1, 2, 3]))).toBe(true);
  });

  it('two identical records without ce_id are two messages: an idempotent handler runs for both', async () => {
    const topic = `interop.noid.${uid()}`;
    const sub = await bus(`interop-noid-${uid()}`);
    const got = new Collector<Message>();
    await sub.subscribe(topic, (m) => got.push(m), { idempotency: { store: memoryIdempotencyStore() } });

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const record = { key: 'same', value: JSON.stringify({ charge: 10 }), headers: { 'content-type': 'application/json' } };
    await producer.send({ topic, acks: -1, messages: [record, record] });
    const items = await got.waitFor(2);
    expect(items.map((m) => m.body)).toEqual([{ charge: 10 }, { charge: 10 }]);
    expect(items[0]!.id).not.toBe(items[1]!.id);
  });

  it('a Switchyard publish is read by a plain kafkajs consumer with ce_ headers and the key', async () => {
    const topic = `interop.out.${uid()}`;
    const pub = await bus(`interop-out-${uid()}`);
    const { id } = await pub.publish(topic, { sku: 'A', qty: 2 }, { key: 'sku-A', headers: { tenant: 'acme' }, correlationId: 'corr-1' });

    const consumer = kafka.consumer({ groupId: `plain-${uid()}`, maxWaitTimeInMs: 250 });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Collector<{ key: string | undefined; value: string; headers: Record<string, string> }>();
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
        seen.push({ key: message.key?.toString(), value: message.value?.toString() ?? '', headers });
      },
    });
    const [m] = await seen.waitFor(1, 60_000);
    expect(m!.key).toBe('sku-A');
    expect(JSON.parse(m!.value)).toEqual({ sku: 'A', qty: 2 });
    expect(m!.headers['ce_id']).toBe(id);
    expect(m!.headers['ce_type']).toBe(topic);
    expect(m!.headers['ce_specversion']).toBe('1.0');
    expect(m!.headers['ce_source']).toMatch(/^interop-out-/);
    expect(m!.headers['ce_correlationid']).toBe('corr-1');
    expect(Number.isNaN(Date.parse(m!.headers['ce_time']!))).toBe(false);
    expect(m!.headers['content-type']).toBe('application/json');
    expect(m!.headers['tenant']).toBe('acme');
    expect(Object.keys(m!.headers).filter((h) => h.startsWith('ce-'))).toEqual([]);
  });

  it('an event without data is a record with a null value and no content-type, and arrives with an undefined body', async () => {
    const topic = `interop.nodata.${uid()}`;
    const pub = await bus(`interop-nodata-${uid()}`);
    const got = new Collector<Message>();
    await pub.subscribe(topic, (m) => got.push(m));
    const { id } = await pub.publish(topic, undefined);

    const consumer = kafka.consumer({ groupId: `plain-${uid()}`, maxWaitTimeInMs: 250 });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Collector<{ value: Buffer | null; headers: string[] }>();
    await consumer.run({ eachMessage: async ({ message }) => seen.push({ value: message.value, headers: Object.keys(message.headers ?? {}) }) });
    const [raw] = await seen.waitFor(1, 60_000);
    expect(raw!.value).toBeNull();
    expect(raw!.headers).not.toContain('content-type');
    expect(raw!.headers).toContain('ce_id');
    const [m] = await got.waitFor(1);
    expect(m!.id).toBe(id);
    expect(m!.body).toBeUndefined();
    expect(m!.cloudEvent?.datacontenttype).toBeUndefined();
  });
});
