/** Settling deliveries: acks and ack-deadline changes made together share requests, each resolved once Pub/Sub answered. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Delivery, type GroupPolicy } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { PubSubTransport } from '../src/transport.js';
import { parsePubSubUrl } from '../src/options.js';
import { urlWith } from './helpers.js';

const cleanups = cleanupAfterEach();
const uid = () => randomUUID().slice(0, 8);
const policy: GroupPolicy = {
  maxAttempts: 5,
  retry: { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 30_000, factor: 2 },
  deadLetterTopic: false,
  concurrency: 20,
  ephemeral: false,
};

async function transport(): Promise<PubSubTransport> {
  const t = new PubSubTransport(parsePubSubUrl(new URL(urlWith({}))), silentLogger);
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

/** The ack ids per acknowledge and modifyAckDeadline request the real client is asked to send for `subscription`. */
function recordSettles(t: PubSubTransport, subscription: string): { acks: number[]; deadlines: number[]; ackIds: string[] } {
  const seen = { acks: [] as number[], deadlines: [] as number[], ackIds: [] as string[] };
  const client = t.subscriber;
  const acknowledge = client.acknowledge.bind(client);
  client.acknowledge = ((request: { subscription?: string | null; ackIds?: string[] | null }, ...rest: unknown[]) => {
    if (request.subscription === subscription) {
      seen.acks.push(request.ackIds?.length ?? 0);
      seen.ackIds.push(...(request.ackIds ?? []));
    }
    return (acknowledge as (...args: unknown[]) => unknown)(request, ...rest);
  }) as typeof client.acknowledge;
  const modify = client.modifyAckDeadline.bind(client);
  client.modifyAckDeadline = ((request: { subscription?: string | null; ackIds?: string[] | null }, ...rest: unknown[]) => {
    if (request.subscription === subscription) seen.deadlines.push(request.ackIds?.length ?? 0);
    return (modify as (...args: unknown[]) => unknown)(request, ...rest);
  }) as typeof client.modifyAckDeadline;
  return seen;
}

describe('pubsub settling', () => {
  it('extending and acking many deliveries at once takes fewer requests than deliveries, and the acks hold', async () => {
    const t = await transport();
    const topic = `settle.${uid()}`;
    const count = 20;
    await t.declareGroup(topic, 'g', policy);
    await Promise.all(Array.from({ length: count }, (_, n) => t.publish({ topic, message: { body: new Uint8Array([n]), headers: { 'ce-id': uid() } } })));
    const got = new Collector<Delivery>();
    const consumer = await t.consume(topic, 'g', { prefetch: count, policy }, (d) => got.push(d));
    cleanups.push(() => consumer.close());
    await got.waitFor(count);
    const subscription = t.subscriptionPath(topic, 'g');
    const seen = recordSettles(t, subscription);

    expect(await Promise.all(got.items.map((d) => d.extend!(30_000)))).toEqual(Array(count).fill(true));
    await Promise.all(got.items.map((d) => d.ack()));
    expect(seen.deadlines.reduce((a, b) => a + b, 0)).toBe(count);
    expect(seen.deadlines.length).toBeLessThan(count);
    expect(seen.acks.reduce((a, b) => a + b, 0)).toBe(count);
    expect(seen.acks.length).toBeLessThan(count);

    // Acked for real: handing the same ack ids back would redeliver at once any message Pub/Sub
    // still held for us; asked directly (past the transport's memory of what it acked), it has none.
    await consumer.close();
    await t.subscriber.modifyAckDeadline({ subscription, ackIds: seen.ackIds, ackDeadlineSeconds: 0 });
    const [answer] = await t.subscriber.pull({ subscription, maxMessages: count }, { timeout: 2_000, retry: null }).catch(() => [{ receivedMessages: [] }]);
    expect(answer.receivedMessages ?? []).toEqual([]);
  });
});
