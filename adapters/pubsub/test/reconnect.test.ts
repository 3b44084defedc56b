/**
 * `scripts/brokers restart pubsub`: the emulator comes back empty (it keeps nothing in memory
 * across a restart), and the transport resumes: the consumer's pulls retry, its subscription and
 * topic are created again, publishing works again. Restarts the shared local emulator (set
 * $SWITCHYARD_TEST_PUBSUB_RESTART for your own).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBus, type Bus, type Logger, type Message } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { PUBSUB_URL, restartPubSub } from './helpers.js';

const cleanups = cleanupAfterEach();

/** Records warnings so the test can wait for the consumer to notice the restart. */
class Warnings implements Logger {
  readonly seen = new Collector<string>();
  debug = () => undefined;
  info = () => undefined;
  warn = (m: string) => this.seen.push(m);
  error = (m: string) => this.seen.push(m);
}

describe('pubsub after an emulator restart', () => {
  it('a subscriber and a publisher resume on their own', { timeout: 180_000 }, async () => {
    const warnings = new Warnings();
    const bus: Bus = await createBus({ url: PUBSUB_URL, service: `rc-${randomUUID().slice(0, 6)}`, logger: warnings });
    cleanups.push(() => bus.close({ drainTimeoutMs: 1000 }));
    const topic = `reconnect.${randomUUID().slice(0, 8)}`;
    const got = new Collector<Message>();
    await bus.subscribe(topic, (m) => got.push(m));
    await bus.publish(topic, { n: -1 });
    await got.waitFor(1);

    await restartPubSub();
    // Until the consumer has recreated its subscription, what the publisher sends may be lost
    // (the topic it recreates has no subscription yet): publish probes until one arrives.
    const deadline = Date.now() + 90_000;
    for (let probe = 0; got.items.length < 2; probe++) {
      expect(Date.now()).toBeLessThan(deadline);
      await bus.publish(topic, { n: -2, probe }).catch(() => undefined);
      await got.waitFor(2, 1_000).catch(() => undefined);
    }
    for (let n = 0; n < 10; n++) await bus.publish(topic, { n });
    // Late probes may still arrive in between: wait for the ten by their numbers.
    const numbers = () => new Set(got.items.map((m) => (m.body as { n: number }).n).filter((n) => n >= 0));
    while (numbers().size < 10) await got.waitFor(got.items.length + 1, 30_000);
    expect(numbers()).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect((await bus.health()).ok).toBe(true);
  });
});
