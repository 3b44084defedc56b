/**
 * Two instances of a service as real OS processes, each a bus on RabbitMQ in the same group,
 * sharing one Redis store: 10,000 messages, 1,000 of them published twice with the same id
 * (what a retrying publisher causes) → exactly 10,000 side effects, and both processes worked.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createBus, silentLogger } from '@switchyard/core';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { REDIS_URL, rabbitUrl, uniquePrefix } from './helpers.js';
import { cleanupAfterEach, publishWithDuplicates, Workers } from '@switchyard/conformance';

const MESSAGES = 10_000;
const DUPLICATE_EVERY = 10; // every 10th message is published twice: 1,000 duplicates
const PUBLISHERS = 20;

const cleanups = cleanupAfterEach();

describe('two processes sharing a Redis store', () => {
  it('turn 10,000 messages with 10 % duplicates into exactly 10,000 side effects', { timeout: 90_000 }, async () => {
    const run = randomUUID().slice(0, 8);
    const topic = `two-proc.redis.${run}`;
    const effectsKey = `${uniquePrefix('two-proc')}:effects`;
    const redis = createClient({ url: REDIS_URL });
    redis.on('error', () => undefined);
    await redis.connect();
    cleanups.push(async () => {
      await redis.del(effectsKey);
      await redis.close();
    });

    const workers = new Workers(fileURLToPath(new URL('./fixtures/worker.mjs', import.meta.url)), {
      BUS_URL: rabbitUrl(),
      REDIS_URL,
      PREFIX: uniquePrefix('two-proc'),
      TOPIC: topic,
      GROUP: `g-${run}`,
      EFFECTS_KEY: effectsKey,
    });
    cleanups.push(() => workers.kill());
    await workers.start(2);

    const bus = await createBus({ url: rabbitUrl(), service: `publisher-${run}`, logger: silentLogger });
    cleanups.push(() => bus.close());
    const { ids, deliveries } = await publishWithDuplicates(bus, topic, run, { messages: MESSAGES, duplicateEvery: DUPLICATE_EVERY, publishers: PUBLISHERS });

    // Every delivery ends in exactly one 'claimed' (handler ran) or 'done' (skipped as a duplicate).
    await workers.progressReaches((total) => total.claimed + total.done >= deliveries, 60_000);
    const counts = await workers.stop();

    const effects = await redis.hGetAll(effectsKey);
    const values = Object.values(effects);
    expect(values, 'one hash field per message id that ran').toHaveLength(MESSAGES);
    expect(
      values.filter((v) => v !== '1'),
      'message ids whose side effect ran more than once',
    ).toEqual([]);
    expect(Object.keys(effects).sort()).toEqual([...ids].sort());
    const total = counts.reduce((sum, c) => ({ claimed: sum.claimed + c.claimed, done: sum.done + c.done, runs: sum.runs + c.runs }));
    expect(total).toEqual({ claimed: MESSAGES, done: MESSAGES / DUPLICATE_EVERY, runs: MESSAGES });
    for (const c of counts) expect(c.runs, 'both processes handled messages').toBeGreaterThan(0);
  });
});
