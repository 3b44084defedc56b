/**
 * completeIn through the bus: the handler writes its effect and the done mark in one transaction,
 * using the claim core hands it (ctx.idempotency).
 */
import { createBus, memoryFaults, silentLogger } from '@switchyard/core';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { postgresIdempotencyStore } from '../src/index.js';
import { dropTables, POSTGRES_URL, uniqueTable } from './helpers.js';

const table = uniqueTable('inhandler');
const effects = uniqueTable('effects');
const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
afterAll(async () => {
  await pool.end();
  await dropTables(table, effects);
});

it('a handler commits its effect and the done mark together; a duplicate finds the mark and does not run', async () => {
  await pool.query(`CREATE TABLE "${effects}" (message_id text NOT NULL)`);
  const store = postgresIdempotencyStore({ pool, table, createTable: true });
  const broker = `pg-in-handler-${process.pid}`;
  const bus = await createBus({ url: `memory://${broker}`, service: 'orders', logger: silentLogger });
  const handled: string[] = [];
  await bus.subscribe(
    'order.placed',
    async (msg, ctx) => {
      const claim = ctx.idempotency;
      if (claim === undefined) throw new Error('no claim handed to the handler');
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO "${effects}" (message_id) VALUES ($1)`, [msg.id]);
        await store.completeIn(client, claim.key, claim.token, { ttlMs: 60_000 });
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      } finally {
        client.release();
      }
      handled.push(msg.id);
    },
    { idempotency: { store } },
  );
  memoryFaults(broker).duplicate('order.placed');
  const { id } = await bus.publish('order.placed', { orderId: 'o-1' });
  const marker = await bus.publish('order.placed', { orderId: 'o-2' });
  await expect.poll(() => handled.includes(marker.id), { timeout: 10_000 }).toBe(true);
  await bus.close();
  const { rows } = await pool.query(`SELECT message_id, count(*)::int AS n FROM "${effects}" GROUP BY message_id ORDER BY message_id`);
  expect(rows).toEqual([id, marker.id].sort().map((message_id) => ({ message_id, n: 1 })));
  const mark = await pool.query(`SELECT key FROM "${table}" WHERE key = $1`, [`orders:${id}`]);
  expect(mark.rowCount).toBe(1);
});
