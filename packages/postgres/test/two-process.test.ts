/**
 * Two instances of a service as real OS processes, each a bus on RabbitMQ in the same group,
 * sharing one PostgreSQL store: 10,000 messages, 1,000 of them published twice with the same id
 * (what a retrying publisher causes) → exactly 10,000 side effects, and both processes worked.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createBus, silentLogger } from '@switchyard/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { idempotencyTableSql } from '../src/index.js';
import { dropTables, POSTGRES_URL, rabbitUrl, uniqueTable } from './helpers.js';
import { cleanupAfterEach, publishWithDuplicates, Workers } from '@switchyard/conformance';

const MESSAGES = 10_000;
const DUPLICATE_EVERY = 10; // every 10th message is published twice: 1,000 duplicates
const PUBLISHERS = 20;

const cleanups = cleanupAfterEach();

describe('two processes sharing a PostgreSQL store', () => {
  it('turn 10,000 messages with 10 % duplicates into exactly 10,000 side effects', { timeout: 90_000 }, async () => {
    const run = randomUUID().slice(0, 8);
    const topic = `two-proc.postgres.${run}`;
    const storeTable = uniqueTable('two_proc_store');
    const effectsTable = uniqueTable('two_proc_effects');
    const db = new pg.Client({ connectionString: POSTGRES_URL });
    await db.connect();
    cleanups.push(async () => {
      await db.end();
      await dropTables(storeTable, effectsTable);
    });
    // The store table exists before the workers start, as after a migration.
    await db.query(idempotencyTableSql(storeTable));
    await db.query(`CREATE TABLE "${effectsTable}" (message_id text NOT NULL, pid integer NOT NULL)`);

    const workers = new Workers(fileURLToPath(new URL('./fixtures/worker.mjs', import.meta.url)), {
      BUS_URL: rabbitUrl(),
      POSTGRES_URL,
      STORE_TABLE: storeTable,
      TOPIC: topic,
      GROUP: `g-${run}`,
      EFFECTS_TABLE: effectsTable,
    });
    cleanups.push(() => workers.kill());
    await workers.start(2);

    const bus = await createBus({ url: rabbitUrl(), service: `publisher-${run}`, logger: silentLogger });
    cleanups.push(() => bus.close());
    const { deliveries } = await publishWithDuplicates(bus, topic, run, { messages: MESSAGES, duplicateEvery: DUPLICATE_EVERY, publishers: PUBLISHERS });

    // Every delivery ends in exactly one 'claimed' (handler ran) or 'done' (skipped as a duplicate).
    await workers.progressReaches((total) => total.claimed + total.done >= deliveries, 60_000);
    const counts = await workers.stop();

    const { rows } = await db.query(`SELECT count(*)::int AS effects, count(DISTINCT message_id)::int AS ids, count(DISTINCT pid)::int AS pids FROM "${effectsTable}"`);
    expect(rows[0]).toEqual({ effects: MESSAGES, ids: MESSAGES, pids: 2 });
    const twice = await db.query(`SELECT message_id FROM "${effectsTable}" GROUP BY message_id HAVING count(*) > 1 LIMIT 5`);
    expect(twice.rows, 'message ids whose side effect ran more than once').toEqual([]);
    const total = counts.reduce((sum, c) => ({ claimed: sum.claimed + c.claimed, done: sum.done + c.done, runs: sum.runs + c.runs }));
    expect(total).toEqual({ claimed: MESSAGES, done: MESSAGES / DUPLICATE_EVERY, runs: MESSAGES });
  });
});
