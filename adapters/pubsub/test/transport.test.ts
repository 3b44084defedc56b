/** What the adapter does on the emulator beyond the Bus contract: limits, flow control, subscription settings. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError, silentLogger, ValidationError, type Delivery, type GroupPolicy } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { subscriptionId, topicId } from '../src/names.js';
import { BACKSTOP_MARGIN, PubSubTransport } from '../src/transport.js';
import { parsePubSubUrl } from '../src/options.js';
import { plainClient, urlWith } from './helpers.js';

const pubsub = plainClient();
const cleanups = cleanupAfterEach();

async function transport(options: Record<string, string> = {}): Promise<PubSubTransport> {
  const t = new PubSubTransport(parsePubSubUrl(new URL(urlWith(options))), silentLogger);
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

const uid = () => randomUUID().slice(0, 8);
const wire = (headers: Record<string, string> = {}, body = new Uint8Array([1])) => ({ body, headers: { 'ce-id': uid(), ...headers } });
const policy = (over: Partial<GroupPolicy> = {}): GroupPolicy => ({
  maxAttempts: 5,
  retry: { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 30_000, factor: 2 },
  deadLetterTopic: false,
  concurrency: 1,
  ephemeral: false,
  ...over,
});

describe('pubsub transport', () => {
  it('refuses what Pub/Sub would not take before sending: over 100 attributes, goog names, values over 1 KiB, over 10 MB', async () => {
    const t = await transport();
    const topic = `limits.${uid()}`;
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`h${i}`, 'x']));
    await expect(t.publish({ topic, message: wire(many) })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.publish({ topic, message: wire({ 'google-trace': 'x' }) })).rejects.toThrow(/goog/);
    await expect(t.publish({ topic, message: wire({ big: 'x'.repeat(1025) }) })).rejects.toThrow(/1024/);
    await expect(t.publish({ topic, message: wire({}, new Uint8Array(10_000_001)) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    // At the limits it goes through.
    await t.publish({ topic, message: wire({ big: 'x'.repeat(1024) }) });
  });

  it('never hands over more unsettled deliveries than prefetch', async () => {
    const t = await transport();
    const topic = `flow.${uid()}`;
    await t.declareGroup(topic, 'g', policy());
    for (let i = 0; i < 20; i++) await t.publish({ topic, message: wire() });
    const held: Delivery[] = [];
    let most = 0;
    const got = new Collector<Delivery>();
    const consumer = await t.consume(topic, 'g', { prefetch: 3, policy: policy() }, (d) => {
      held.push(d);
      most = Math.max(most, held.length);
      got.push(d);
    });
    cleanups.push(() => consumer.close());
    for (let settled = 0; settled < 20; settled++) {
      await got.waitFor(settled + 1);
      if (held.length < 3 && settled + held.length < 20) {
        // Give the pull loop a chance to over-deliver before settling the next one.
        await got.waitFor(Math.min(20, settled + 3), 2_000).catch(() => undefined);
      }
      await held.shift()!.ack();
    }
    expect(got.items).toHaveLength(20);
    expect(most).toBeLessThanOrEqual(3);
  });

  it('sets the dead-letter backstop above core maxAttempts, ordering on, the ack deadline as lease; ephemeral groups expire', async () => {
    expect((await transport()).capabilities.deadLetter).toBe('emulated'); // no backstop by default on an emulator
    const t = await transport({ deadLetterBackstop: 'true' });
    expect(t.capabilities.deadLetter).toBe('native');
    const topic = `backstop.${uid()}`;
    await t.declareGroup(topic, 'g', policy({ maxAttempts: 4, deadLetterTopic: `${topic}.dlq` }));
    const [metadata] = await pubsub.subscription(subscriptionId(topic, 'g')).getMetadata();
    expect(metadata.deadLetterPolicy).toMatchObject({
      deadLetterTopic: `projects/${pubsub.projectId}/topics/${topicId(`${topic}.dlq`)}`,
      maxDeliveryAttempts: 4 + BACKSTOP_MARGIN,
    });
    expect(metadata.enableMessageOrdering).toBe(true);
    expect(metadata.ackDeadlineSeconds).toBe(t.capabilities.leaseMs! / 1000);
    // A later declaration with another policy updates it (Pub/Sub cannot tell whether the old one still has consumers).
    await t.declareGroup(topic, 'g', policy({ maxAttempts: 200, deadLetterTopic: `${topic}.dlq` }));
    const [updated] = await pubsub.subscription(subscriptionId(topic, 'g')).getMetadata();
    expect(updated.deadLetterPolicy?.deadLetterTopic || undefined).toBeUndefined();

    const reply = `switchyard.reply.${uid()}`;
    await t.declareGroup(reply, 'r', policy({ ephemeral: true }));
    const [ephemeral] = await pubsub.subscription(subscriptionId(reply, 'r')).getMetadata();
    expect(Number(ephemeral.expirationPolicy?.ttl?.seconds)).toBe(86_400);
    expect(await t.exists(reply, 'r')).toBe(true);
    await t.deleteGroup(reply, 'r');
    expect(await t.exists(reply, 'r')).toBe(false);
    expect(await t.exists(reply)).toBe(false);
    // Other topics stay when their group goes.
    await t.deleteGroup(topic, 'g');
    expect(await t.exists(topic, 'g')).toBe(false);
    expect(await t.exists(topic)).toBe(true);
  });

  it('a nacked delivery comes back after its delay; an extended one does not come back meanwhile', async () => {
    const t = await transport();
    const topic = `nack.${uid()}`;
    await t.declareGroup(topic, 'g', policy());
    await t.publish({ topic, message: wire() });
    const got = new Collector<{ d: Delivery; at: number }>();
    const consumer = await t.consume(topic, 'g', { prefetch: 5, policy: policy() }, (d) => got.push({ d, at: Date.now() }));
    cleanups.push(() => consumer.close());
    const [first] = await got.waitFor(1);
    const nackedAt = Date.now();
    await first!.d.nack({ delayMs: 1200 });
    const [, second] = await got.waitFor(2);
    expect(second!.at - nackedAt).toBeGreaterThanOrEqual(1150);
    expect(second!.d.message.headers['ce-id']).toBe(first!.d.message.headers['ce-id']);
    expect(await second!.d.extend!(15_000)).toBe(true);
    await second!.d.ack();
    expect(await second!.d.extend!(15_000)).toBe(false);
  });
});
