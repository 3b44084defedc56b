/**
 * CloudEvents AMQP binding interop: a plain amqplib client that follows the binding talks to
 * Switchyard both ways (exchange "switchyard.topics", routing key = topic).
 */
import { randomUUID } from 'node:crypto';
import amqplib, { type ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createBus, silentLogger, type Bus, type Message } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { RABBITMQ_URL, urlWith } from './helpers.js';

const URL_ = urlWith({ queueExpiresMs: '600000' });
const EXCHANGE = 'switchyard.topics';
const cleanups = cleanupAfterEach();

async function bus(service: string): Promise<Bus> {
  const b = await createBus({ url: URL_, service, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 1000 }));
  return b;
}

async function plainChannel() {
  const conn = await amqplib.connect(RABBITMQ_URL);
  cleanups.push(() => conn.close());
  return conn.createConfirmChannel();
}

const uid = () => randomUUID().slice(0, 8);

describe('amqp interop (CloudEvents AMQP binding)', () => {
  it('a plain amqplib publisher using cloudEvents: application properties reaches a Switchyard subscriber', async () => {
    const topic = `interop.in.${uid()}`;
    const sub = await bus(`interop-in-${uid()}`);
    const got = new Collector<Message>();
    await sub.subscribe(topic, (m) => got.push(m)); // declares the group's queue, bound to the exchange

    const ch = await plainChannel();
    const publish = (content: Buffer, options: amqplib.Options.Publish) =>
      new Promise<void>((resolve, reject) => ch.publish(EXCHANGE, topic, content, options, (err: unknown) => (err ? reject(err) : resolve())));
    await publish(Buffer.from(JSON.stringify({ orderId: 'o-7', total: 12.5 })), {
      persistent: true,
      contentType: 'application/json',
      headers: {
        'cloudEvents:specversion': '1.0',
        'cloudEvents:id': 'evt-123',
        'cloudEvents:type': 'com.example.order.placed',
        'cloudEvents:source': '/legacy/java-service',
        'cloudEvents:time': '2024-05-01T12:00:00.000Z',
        'cloudEvents:correlationid': 'corr-9',
        'cloudEvents:partitionkey': 'order-7',
        tenant: 'acme',
      },
    });
    // The cloudEvents_ spelling (for brokers/clients that dislike ":" in names) is accepted too.
    await publish(Buffer.from('plain text'), {
      contentType: 'text/plain; charset=utf-8',
      headers: { cloudEvents_specversion: '1.0', cloudEvents_id: 'evt-456', cloudEvents_type: 'com.example.note', cloudEvents_source: '/other' },
    });
    // No CloudEvents metadata at all: delivered as bytes; the AMQP message-id stands in for the id.
    await publish(Buffer.from([1, 2, 3]), { messageId: 'amqp-msg-1' });

    const items = await got.waitFor(3);
    const ce = items.find((m) => m.id === 'evt-123')!;
    expect(ce).toBeDefined();
    expect(ce.body).toEqual({ orderId: 'o-7', total: 12.5 });
    expect(ce.contentType).toBe('application/json');
    expect(ce.correlationId).toBe('corr-9');
    expect(ce.key).toBe('order-7');
    expect(ce.timestamp.toISOString()).toBe('2024-05-01T12:00:00.000Z');
    expect(ce.headers).toEqual({ tenant: 'acme' });
    expect(ce.attempt).toBe(1);

    const note = items.find((m) => m.id === 'evt-456')!;
    expect(note.body).toBe('plain text');
    expect(note.headers).toEqual({});

    const raw = items.find((m) => m.id === 'amqp-msg-1')!;
    expect(raw.contentType).toBe('application/octet-stream');
    expect(Buffer.from(raw.body as Uint8Array).equals(Buffer.from([1, 2, 3]))).toBe(true);
  });

  it('ce-time sent as a native AMQP timestamp (seconds), an integer (epoch ms) or an RFC 3339 string is the message time', async () => {
    const topic = `interop.time.${uid()}`;
    const sub = await bus(`interop-time-${uid()}`);
    const got = new Collector<Message>();
    await sub.subscribe(topic, (m) => got.push(m));
    const ch = await plainChannel();
    const publish = (id: string, time: unknown, prefix = 'cloudEvents_') =>
      new Promise<void>((resolve, reject) =>
        ch.publish(
          EXCHANGE,
          topic,
          Buffer.from('{}'),
          {
            contentType: 'application/json',
            headers: { [`${prefix}specversion`]: '1.0', [`${prefix}id`]: id, [`${prefix}type`]: 't', [`${prefix}source`]: '/plain', [`${prefix}time`]: time },
          },
          (err: unknown) => (err ? reject(err) : resolve()),
        ),
      );
    await publish('native', { '!': 'timestamp', value: 1_700_000_000 });
    await publish('integer', 1_700_000_000_123);
    await publish('string', '2023-11-14T22:13:20.5Z', 'cloudEvents:');
    // The message-level AMQP timestamp property (seconds) stands in when no ce-time is sent.
    await new Promise<void>((resolve, reject) =>
      ch.publish(
        EXCHANGE,
        topic,
        Buffer.from('{}'),
        {
          contentType: 'application/json',
          timestamp: 1_600_000_000,
          headers: { cloudEvents_specversion: '1.0', cloudEvents_id: 'property', cloudEvents_type: 't', cloudEvents_source: '/p' },
        },
        (err: unknown) => (err ? reject(err) : resolve()),
      ),
    );
    const items = await got.waitFor(4);
    const at = (id: string) => items.find((m) => m.id === id)!.timestamp.toISOString();
    expect(at('native')).toBe('2023-11-14T22:13:20.000Z');
    expect(at('integer')).toBe('2023-11-14T22:13:20.123Z');
    expect(at('string')).toBe('2023-11-14T22:13:20.500Z');
    expect(at('property')).toBe('2020-09-13T12:26:40.000Z');
    expect(items.find((m) => m.id === 'native')!.cloudEvent?.time).toBe('2023-11-14T22:13:20.000Z');
  });

  it('a Switchyard publish is a binding-conformant AMQP message for a plain consumer', async () => {
    const topic = `interop.out.${uid()}`;
    const service = `interop-out-${uid()}`;
    const ch = await plainChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, EXCHANGE, topic);
    const received = new Collector<ConsumeMessage>();
    await ch.consume(queue, (msg) => msg && received.push(msg), { noAck: true });

    const pub = await bus(service);
    const { id } = await pub.publish(topic, { hello: 'world' }, { key: 'k-1', headers: { tenant: 'acme' }, correlationId: 'corr-1' });
    const [msg] = await received.waitFor(1);
    const h = msg!.properties.headers!;
    expect(h['cloudEvents_specversion']).toBe('1.0');
    expect(h['cloudEvents_id']).toBe(id);
    expect(h['cloudEvents_type']).toBe(topic);
    expect(h['cloudEvents_source']).toBe(service);
    expect(h['cloudEvents_correlationid']).toBe('corr-1');
    expect(h['cloudEvents_partitionkey']).toBe('k-1');
    expect(Number.isNaN(Date.parse(String(h['cloudEvents_time'])))).toBe(false);
    expect(h['tenant']).toBe('acme');
    // One separator per message, as the binding requires.
    expect(Object.keys(h).filter((name) => name.startsWith('cloudEvents:'))).toEqual([]);
    expect(h['content-type']).toBeUndefined();
    expect(msg!.properties.contentType).toBe('application/json');
    expect(msg!.properties.messageId).toBe(id);
    expect(msg!.properties.correlationId).toBe('corr-1');
    expect(msg!.properties.deliveryMode).toBe(2);
    expect(JSON.parse(msg!.content.toString('utf8'))).toEqual({ hello: 'world' });
  });

  it('a plain AMQP RPC server can answer a Switchyard request through reply-to', async () => {
    const topic = `interop.rpc.${uid()}`;
    const client = await bus(`interop-rpc-${uid()}`);
    const ch = await plainChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, EXCHANGE, topic);
    await ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        const request = JSON.parse(msg.content.toString('utf8')) as { n: number };
        ch.sendToQueue(msg.properties.replyTo as string, Buffer.from(JSON.stringify({ double: request.n * 2 })), {
          contentType: 'application/json',
          headers: {
            'cloudEvents:specversion': '1.0',
            'cloudEvents:id': randomUUID(),
            'cloudEvents:type': `${topic}.reply`,
            'cloudEvents:source': '/plain',
            'cloudEvents:inreplyto': msg.properties.headers!['cloudEvents_id'],
          },
        });
      },
      { noAck: true },
    );
    await expect(client.request(topic, { n: 21 }, { timeoutMs: 10_000 })).resolves.toEqual({ double: 42 });
  });
});
