/** `scripts/brokers restart nats` under a live bus: it reconnects by itself, nothing confirmed is lost. */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { type Bus, createBus, type Message, silentLogger } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { NATS_URL, removeTestStreams, restartNats } from './helpers.js';

const started = new Date();
afterAll(() => removeTestStreams(started, ['reconnect.']));
const cleanups = cleanupAfterEach();

async function bus(): Promise<Bus> {
  const b = await createBus({ url: NATS_URL, service: `reconnect-${randomUUID().slice(0, 8)}`, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 1000 }));
  return b;
}

describe('nats reconnect', () => {
  it('a subscription, a reply handler and publishes carry on across a server restart', { timeout: 120_000 }, async () => {
    const b = await bus();
    const topic = `reconnect.${randomUUID().slice(0, 8)}`;
    const got = new Collector<Message>();
    await b.subscribe(topic, (m) => got.push(m));
    await b.reply(`${topic}.ask`, (m) => m.body);
    await b.publish(topic, { n: 0 });
    await got.waitFor(1);

    // Publishes made while the server goes down and comes back resolve once it confirmed them.
    const restarting = restartNats();
    const during = Promise.all([1, 2, 3].map((n) => b.publish(topic, { n })));
    await restarting;
    await during;
    await b.publish(topic, { n: 4 });
    await got.waitFor(5, 60_000);
    expect(new Set(got.items.map((m) => (m.body as { n: number }).n))).toEqual(new Set([0, 1, 2, 3, 4]));
    await expect(b.request(`${topic}.ask`, { back: true }, { timeoutMs: 20_000 })).resolves.toEqual({ back: true });
    const health = await b.health();
    expect(health.ok).toBe(true);
    expect(health.details['reconnects']).toBeGreaterThanOrEqual(1);
  });
});
