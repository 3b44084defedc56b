/**
 * CloudEvents Pub/Sub binding interop: a plain @google-cloud/pubsub client talks to Switchyard
 * both ways on the emulator (topic ids by the README's name rule).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Message as PubSubMessage } from '@google-cloud/pubsub';
import { createBus, memoryIdempotencyStore, silentLogger, type Bus, type Message } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { subscriptionId, topicId } from '../src/names.js';
import { PUBSUB_URL, plainClient } from './helpers.js';

const pubsub = plainClient();
const cleanups = cleanupAfterEach();

async function bus(service: string): Promise<Bus> {
  const b = await createBus({ url: PUBSUB_URL, service, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 1000 }));
  return b;
}

const uid = () => randomUUID().slice(0, 8);

describe('pubsub interop (CloudEvents Pub/Sub binding)', () => {
  it('a plain client publishing ce- attributes and an ordering key reaches a Switchyard subscriber', async () => {
    const topic = `interop.in.${uid()}`;
    const sub = await bus(`interop-in-${uid()}`);
    const got = new Collector<Message>();
    await sub.subscribe(topic, (m) => got.push(m)); // creates the topic and the group's subscription

    const plain = pubsub.topic(topicId(topic), { messageOrdering: true });
    await plain.publishMessage({
      data: Buffer.from(JSON.stringify({ orderId: 'o-7', total: 12.5 })),
      orderingKey: 'order-7',
      attributes: {
        'ce-specversion': '1.0',
        'ce-id': 'evt-123',
        'ce-type': 'com.example.order.placed',
        'ce-source': '/legacy/java-service',
        'ce-time': '2024-05-01T12:00:00.000Z',
        'ce-correlationid': 'corr-9',
        'Content-Type': 'application/json',
        tenant: 'acme',
      },
    });
    // No CloudEvents attributes at all: still delivered, as bytes, with an id derived from the message id.
    await plain.publishMessage({ data: Buffer.from([1, 2, 3]) });
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

  it('two identical plain messages are two messages: an idempotent handler runs for both', async () => {
    const topic = `interop.noid.${uid()}`;
    const sub = await bus(`interop-noid-${uid()}`);
    const got = new Collector<Message>();
    await sub.subscribe(topic, (m) => got.push(m), { idempotency: { store: memoryIdempotencyStore() } });
    const plain = pubsub.topic(topicId(topic));
    await plain.publishMessage({ data: Buffer.from('same') });
    await plain.publishMessage({ data: Buffer.from('same') });
    const items = await got.waitFor(2);
    expect(new Set(items.map((m) => m.id)).size).toBe(2);
  });

  it('a Switchyard publish reaches a plain subscriber as ce- attributes, content-type and an ordering key', async () => {
    const topic = `interop.out.${uid()}`;
    const pub = await bus(`interop-out-${uid()}`);
    await pub.publish(topic, { warm: true }); // creates the topic
    const [subscription] = await pubsub.topic(topicId(topic)).createSubscription(`plain-${uid()}`, { enableMessageOrdering: true });
    cleanups.push(() => subscription.delete());
    const got = new Collector<PubSubMessage>();
    subscription.on('message', (m: PubSubMessage) => {
      m.ack();
      got.push(m);
    });
    cleanups.push(() => subscription.close());
    const { id } = await pub.publish(topic, { orderId: 'o-8' }, { key: 'order-8', headers: { tenant: 'acme' }, correlationId: 'corr-1' });
    const [m] = await got.waitFor(1);
    expect(JSON.parse(m!.data.toString('utf8'))).toEqual({ orderId: 'o-8' });
    expect(m!.orderingKey).toBe('order-8');
    expect(m!.attributes).toMatchObject({
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-type': topic,
      'ce-source': pub.service,
      'ce-correlationid': 'corr-1',
      'content-type': 'application/json',
      tenant: 'acme',
    });
    expect(Date.parse(m!.attributes['ce-time']!)).not.toBeNaN();
  });

  it('groups are subscriptions named <topic id>~<group>: a plain client sees them', async () => {
    const topic = `1interop.${uid()}`; // starts with a digit: the topic id gets the sy~ prefix
    const b = await bus(`interop-names-${uid()}`);
    await b.subscribe(topic, () => undefined, { group: 'billing' });
    const [exists] = await pubsub.subscription(subscriptionId(topic, 'billing')).exists();
    expect(exists).toBe(true);
    const [metadata] = await pubsub.subscription(subscriptionId(topic, 'billing')).getMetadata();
    expect(metadata.topic).toBe(`projects/${pubsub.projectId}/topics/sy~${topic}`);
  });
});
