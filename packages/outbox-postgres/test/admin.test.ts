/**
 * How the relay wakes up (NOTIFY hint, polling guarantee), survives losing its PostgreSQL
 * session, and the table's upkeep: retention, parked rows, re-queueing, stats.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createBus, silentLogger, type Bus } from '@switchyard/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { leaderLockName } from '../src/statements.js';
import { tableNames } from '../src/schema.js';
import { Collector, Fixture, nextEvent, publishedBy, Recorder, unique } from './helpers.js';

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(async () => {
  await fx.dispose();
});

async function memoryBus(): Promise<Bus> {
  const bus = await createBus({ url: `memory://${unique('admin')}`, service: 'orders', logger: silentLogger });
  fx.defer(() => bus.close());
  return bus;
}

it('NOTIFY wakes an idle relay at once: with a one-minute poll interval, a committed row still goes out in well under a second', async () => {
  const outbox = await fx.outbox();
  const bus = await memoryBus();
  const received = new Collector();
  await bus.subscribe('order.placed', received.handler);
  const relay = outbox.startRelay(bus, { pollIntervalMs: 60_000, logger: silentLogger });
  fx.defer(() => relay.stop());
  await nextEvent(relay.events, 'leader', (leader: boolean) => leader, 10_000);
  // Nothing reports "idle": give its first (empty) claim a moment, so the row below can only be found through NOTIFY.
  await sleep(200);
  const writtenAt = Date.now();
  const { id } = await fx.tx((client) => outbox.publish(client, 'order.placed', { orderId: 'o-1' }));
  await received.until((ms) => ms.some((m) => m.id === id), 5_000, 'the row');
  expect(Date.now() - writtenAt).toBeLessThan(1_000);
});

it('polling is the guarantee: with the NOTIFY trigger disabled, rows still go out', async () => {
  const outbox = await fx.outbox();
  await fx.pool.query(`ALTER TABLE ${outbox.tableName} DISABLE TRIGGER "${outbox.tableName}_notify"`);
  const bus = await memoryBus();
  const received = new Collector();
  await bus.subscribe('order.placed', received.handler);
  const relay = outbox.startRelay(bus, { pollIntervalMs: 200, logger: silentLogger });
  fx.defer(() => relay.stop());
  await nextEvent(relay.events, 'leader', (leader: boolean) => leader, 10_000);
  const ids = await fx.tx(async (client) => [(await outbox.publish(client, 'order.placed', { n: 1 })).id, (await outbox.publish(client, 'order.placed', { n: 2 })).id]);
  await received.until((ms) => ids.every((id) => ms.some((m) => m.id === id)), 5_000, 'both rows');
});

it('survives losing its PostgreSQL session: leadership is dropped, taken again on a new session, and rows keep flowing', async () => {
  const outbox = await fx.outbox();
  const bus = await memoryBus();
  const received = new Collector();
  await bus.subscribe('order.placed', received.handler);
  // What the relay logged goes into a timeout's message, so a failure says where it got stuck.
  const log: string[] = [];
  const record = (message: string, fields?: Record<string, unknown>) => log.push(`${message} ${JSON.stringify(fields ?? {})}`);
  const explain = (err: Error) => {
    throw new Error(`${err.message}; relay log: ${log.join(' | ')}`);
  };
  const relay = outbox.startRelay(bus, { pollIntervalMs: 100, logger: { debug: record, info: record, warn: record, error: record } });
  fx.defer(() => relay.stop());
  // Recorded from the start: the hand-back can happen before the terminate query itself returns.
  const leadership = new Recorder<boolean>();
  relay.events.on('leader', leadership.push);
  await leadership.until((l) => l[0] === true, 10_000, 'leadership').catch(explain);

  // Kill the backend that holds the leader lock (an admin's pg_terminate_backend, a failover).
  const lockHolder = `SELECT l.pid FROM pg_locks l, (SELECT hashtextextended($1, 0) AS h) k
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = ((k.h >> 32) & 4294967295) AND l.objid::bigint = (k.h & 4294967295)`;
  const { rows } = await fx.pool.query<{ pid: number }>(lockHolder, [leaderLockName(tableNames(outbox.tableName))]);
  expect(rows).toHaveLength(1);
  const { rows: named } = await fx.pool.query('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [rows[0]!.pid]);
  expect(named[0].application_name).toBe('switchyard-outbox-relay');
  await fx.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
  await leadership.until((l) => l.length >= 3, 15_000, 'leadership lost and taken again').catch(explain);
  expect(leadership.items.slice(0, 3)).toEqual([true, false, true]);
  const { rows: after } = await fx.pool.query<{ pid: number }>(lockHolder, [leaderLockName(tableNames(outbox.tableName))]);
  expect(after).toHaveLength(1);
  expect(after[0]!.pid).not.toBe(rows[0]!.pid);

  const { id } = await fx.tx((client) => outbox.publish(client, 'order.placed', { orderId: 'after the failover' }));
  await received.until((ms) => ms.some((m) => m.id === id), 10_000, 'a row written after the session was lost');
});

it('a relay takes back its own leftover claims at once (a batch that failed part-way), but waits out another relay’s lease', async () => {
  const outbox = await fx.outbox();
  const bus = await memoryBus();
  const received = new Collector();
  await bus.subscribe('order.placed', received.handler, { concurrency: 4 });
  const relay = outbox.startRelay(bus, { pollIntervalMs: 100, logger: silentLogger });
  fx.defer(() => relay.stop());
  await nextEvent(relay.events, 'leader', (leader: boolean) => leader, 10_000);

  // Two rows of one key, then two of another; each key's first row carries an hour-long lease, by this relay
  // or by someone else — written in the same transaction, so the relay never sees them unleased.
  const lease = `UPDATE ${outbox.tableName} SET claimed_by = $1, claimed_until = now() + interval '1 hour' WHERE message_id = $2`;
  const [mineFirst, mineNext, othersFirst, othersNext] = await fx.tx(async (client) => {
    const ids = [
      (await outbox.publish(client, 'order.placed', { n: 1 }, { key: 'mine' })).id,
      (await outbox.publish(client, 'order.placed', { n: 2 }, { key: 'mine' })).id,
      (await outbox.publish(client, 'order.placed', { n: 1 }, { key: 'other' })).id,
      (await outbox.publish(client, 'order.placed', { n: 2 }, { key: 'other' })).id,
    ];
    await client.query(lease, [relay.relayId, ids[0]]);
    await client.query(lease, ['some-other-relay', ids[2]]);
    return ids;
  });

  await received.until((ms) => [mineFirst, mineNext].every((id) => ms.some((m) => m.id === id)), 5_000, 'the key this relay had claimed');
  expect(received.messages.map((m) => m.id)).toEqual([mineFirst, mineNext]); // in order, and nothing of the other key
  const states = await fx.rows(outbox.tableName);
  expect(states.find((r) => r.message_id === othersFirst)).toMatchObject({ status: 'pending', claimed_by: 'some-other-relay' });
  expect(states.find((r) => r.message_id === othersNext)).toMatchObject({ status: 'pending', claimed_by: null });
});

it('retention: sent rows are purged (by the leader after retainSentMs, or by purgeSent), pending and parked rows never', async () => {
  const outbox = await fx.outbox();
  const bus = await createBus({ url: `memory://${unique('retention')}?maxPayloadBytes=2048`, service: 'orders', logger: silentLogger });
  fx.defer(() => bus.close());
  await bus.subscribe('order.placed', async () => undefined);
  const relay = outbox.startRelay(bus, { pollIntervalMs: 50, retainSentMs: 0, logger: silentLogger });
  fx.defer(() => relay.stop());
  const sent = publishedBy(relay);
  const parked = nextEvent(relay.events, 'parked', () => true, 10_000);
  const purged = new Recorder<number>();
  relay.events.on('purged', (e) => purged.push(e.deleted));

  const ids = await fx.tx(async (client) => {
    const out: string[] = [];
    for (let i = 0; i < 5; i++) out.push((await outbox.publish(client, 'order.placed', { i })).id);
    await outbox.publish(client, 'order.placed', { blob: 'x'.repeat(4096) }); // too large: parked
    return out;
  });
  await sent.until((s) => ids.every((id) => s.includes(id)), 10_000, 'five rows sent');
  await parked;
  await purged.until((p) => p.reduce((n, deleted) => n + deleted, 0) >= 5, 10_000, 'the leader purging the sent rows');
  expect((await fx.rows(outbox.tableName)).map((r) => r.status)).toEqual(['parked']);

  // purgeSent by hand: only sent rows older than the cut-off.
  await relay.stop();
  await fx.tx((client) => outbox.publish(client, 'order.placed', { pending: true }));
  await fx.pool.query(
    `INSERT INTO ${outbox.tableName} (message_id, topic, body, body_kind, status, sent_at) VALUES ('old', 't', '', 'json', 'sent', now() - interval '2 hours'), ('new', 't', '', 'json', 'sent', now())`,
  );
  expect(await outbox.purgeSent({ olderThanMs: 3_600_000 })).toBe(1);
  expect((await fx.rows(outbox.tableName)).map((r) => `${r.message_id === 'new' ? 'new ' : ''}${r.status}`)).toEqual(['parked', 'pending', 'new sent']);
  await expect(outbox.purgeSent({ olderThanMs: -1 })).rejects.toThrow(/non-negative integer/);
});

it('stats and parked rows: a standby reports the lag, the leader parks and counts, requeue sends parked rows again', async () => {
  const outbox = await fx.outbox();
  const bus = await createBus({ url: `memory://${unique('stats')}?maxPayloadBytes=2048`, service: 'orders', logger: silentLogger });
  fx.defer(() => bus.close());
  await bus.subscribe('order.placed', async () => undefined);

  // Someone else holds the leader lock: the relay below stands by and publishes nothing.
  const holder = await fx.pool.connect();
  fx.defer(async () => holder.release(true));
  await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [leaderLockName(tableNames(outbox.tableName))]);

  const written = await fx.tx(async (client) => [
    (await outbox.publish(client, 'order.placed', { blob: 'a'.repeat(4096) }, { key: 'k1' })).id,
    (await outbox.publish(client, 'order.placed', { blob: 'b'.repeat(4096) }, { key: 'k2' })).id,
    (await outbox.publish(client, 'order.placed', { ok: true }, { key: 'k1' })).id,
  ]);
  await fx.pool.query(`UPDATE ${outbox.tableName} SET created_at = now() - interval '5 seconds'`);
  const relay = outbox.startRelay(bus, { pollIntervalMs: 100, logger: silentLogger });
  fx.defer(() => relay.stop());
  const waiting = await relay.stats();
  expect(waiting).toMatchObject({ leader: false, published: 0, pendingRows: 3, parkedRows: 0 });
  expect(waiting.oldestPendingAgeMs).toBeGreaterThanOrEqual(5_000);
  expect(waiting.oldestPendingAgeMs).toBeLessThan(15_000);

  // The lock is free: the relay takes over within a poll, parks the two rows too large for the bus, sends the third.
  const sent = publishedBy(relay);
  const leads = nextEvent(relay.events, 'leader', (leader: boolean) => leader, 10_000);
  await holder.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [leaderLockName(tableNames(outbox.tableName))]);
  await leads;
  await sent.until((s) => s.includes(written[2]!), 10_000, 'the publishable row');
  expect(await relay.stats()).toMatchObject({ leader: true, published: 1, parked: 2, failures: 2, outageFailures: 0, pendingRows: 0, parkedRows: 2, oldestPendingAgeMs: 0 });

  expect((await outbox.parked({ limit: 1 })).map((p) => p.id)).toEqual([written[0]]);
  const all = await outbox.parked();
  expect(all.map((p) => p.id)).toEqual([written[0], written[1]]);
  expect(all[0]).toMatchObject({ topic: 'order.placed', key: 'k1', attempts: 1, error: expect.stringMatching(/ERR_PAYLOAD_TOO_LARGE/) });
  expect(all[0]!.parkedAt.getTime()).toBeGreaterThanOrEqual(all[0]!.createdAt.getTime());

  await relay.stop();
  expect(await outbox.requeue()).toBe(2);
  expect(await outbox.parked()).toEqual([]);
  expect((await fx.rows(outbox.tableName)).map((r) => `${r.status}/${r.attempts}`)).toEqual(['pending/0', 'pending/0', 'sent/0']);
  expect(await outbox.requeue({ ids: ['no-such-id'] })).toBe(0);
  await expect(outbox.requeue({ ids: 'one' as never })).rejects.toThrow(/array of message ids/);
});
