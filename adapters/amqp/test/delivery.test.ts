/**
 * Adapter-specific settlement: delayed redelivery through the delay buckets, and delivery counts
 * that stay right across both the delay path and crash redelivery.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBus, silentLogger, type Bus, type Message } from '@switchyard/core';
import { cleanupAfterEach, Collector, deferred } from '@switchyard/conformance';
import { urlWith } from './helpers.js';

const cleanups = cleanupAfterEach();

async function bus(): Promise<Bus> {
  const b = await createBus({ url: urlWith({ queueExpiresMs: '600000' }), service: `dl-${randomUUID().slice(0, 6)}`, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 500 }));
  return b;
}

const uid = () => randomUUID().slice(0, 8);

describe('amqp delayed redelivery and delivery counts', () => {
  it('a message nacked with a long delay neither blocks the queue nor stays in process memory', async () => {
    const b = await bus();
    const topic = `dl.block.${uid()}`;
    const group = `g-${uid()}`;
    await b.pull(topic, { group, waitMs: 0 }); // declare the group
    await b.publish(topic, { n: 1 });
    const [first] = await b.pull(topic, { group, waitMs: 5000 });
    expect(first!.body).toEqual({ n: 1 });
    await first!.nack({ delayMs: 60_000 }); // parked in a delay bucket on the broker, original acked
    await b.publish(topic, { n: 2 });
    const next = await b.pull(topic, { group, waitMs: 5000, max: 10 });
    expect(next.map((m) => m.body)).toEqual([{ n: 2 }]);
    await next[0]!.ack();
  });

  it('delayed publish waits on the broker, then reaches every group', async () => {
    const b = await bus();
    const topic = `dl.pub.${uid()}`;
    const one = new Collector<number>();
    const two = new Collector<number>();
    await b.subscribe(topic, () => one.push(Date.now()), { group: `g1-${uid()}` });
    await b.subscribe(topic, () => two.push(Date.now()), { group: `g2-${uid()}` });
    const sent = Date.now();
    await b.publish(topic, { late: true }, { delayMs: 700 });
    const [[a], [c]] = await Promise.all([one.waitFor(1), two.waitFor(1)]);
    expect(a! - sent).toBeGreaterThanOrEqual(650);
    expect(c! - sent).toBeGreaterThanOrEqual(650);
  });

  it('attempt grows by one through a delayed nack and then a crash (quorum x-delivery-count + carried count)', async () => {
    const topic = `dl.count.${uid()}`;
    const group = `g-${uid()}`;
    const first = await bus();
    const attempts = new Collector<number>();
    const holding = deferred();
    await first.subscribe(
      topic,
      async (m: Message, ctx) => {
        attempts.push(m.attempt);
        if (m.attempt === 1) throw new Error('fail once'); // → nack with delay → delay bucket copy
        holding.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)); // then "crash" holding it
      },
      { group, retry: { maxAttempts: 10, initialDelayMs: 50, maxDelayMs: 100, factor: 2 } },
    );
    await first.publish(topic, { x: 1 });
    await holding.promise;
    await first.close({ drainTimeoutMs: 50 });
    const second = await bus();
    const got = deferred<number>();
    await second.subscribe(topic, (m) => got.resolve(m.attempt), { group });
    expect(attempts.items).toEqual([1, 2]);
    expect(await got.promise).toBe(3);
  });
});
