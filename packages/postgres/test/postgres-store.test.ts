/**
 * What the store conformance suite cannot see: the table and its migration, completeIn inside the
 * app's own transaction, purging, who owns the pool, option checks and credentials in errors.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { cleanupAfterEach, CuttableProxy } from '@switchyard/conformance';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_TABLE_SQL, idempotencyTableSql, postgresIdempotencyStore, type PostgresIdempotencyStore } from '../src/index.js';
import { dropTables, POSTGRES_URL, uniqueTable } from './helpers.js';

const tables: string[] = [];
const cleanups = cleanupAfterEach();
afterAll(() => dropTables(...tables));

function table(label: string): string {
  const name = uniqueTable(label);
  tables.push(name);
  return name;
}

function store(options: { table: string; createTable?: boolean; commandTimeoutMs?: number }): PostgresIdempotencyStore {
  const s = postgresIdempotencyStore({ connectionString: POSTGRES_URL, createTable: true, poolSize: 3, ...options });
  cleanups.push(() => s.close());
  return s;
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  c.on('error', () => undefined);
  await c.connect();
  cleanups.push(() => c.end());
  return c;
}

async function claimed(s: PostgresIdempotencyStore, key: string, leaseMs = 30_000): Promise<string> {
  const result = await s.claim(key, { leaseMs });
  if (result.status !== 'claimed') throw new Error(`expected to claim ${key}, got ${result.status}`);
  return result.token;
}

/** Resolve once a lease of `ms` started before this call has lapsed in PostgreSQL's clock. */
async function lapsed(s: PostgresIdempotencyStore, ms: number): Promise<void> {
  const marker = `marker-${randomUUID()}`;
  await claimed(s, marker, ms);
  await expect.poll(async () => (await s.claim(marker, { leaseMs: 60_000 })).status, { timeout: 10_000, interval: 25 }).toBe('claimed');
}

describe('the table', () => {
  it('ships as a migration identical to IDEMPOTENCY_TABLE_SQL, and running it twice is harmless', async () => {
    const migration = await readFile(new URL('../migrations/001_switchyard_idempotency.sql', import.meta.url), 'utf8');
    const statements = migration
      .split('\n')
      .filter((line) => !line.startsWith('--'))
      .join('\n');
    expect(statements).toBe(IDEMPOTENCY_TABLE_SQL);
    const name = table('migration');
    const c = await client();
    await c.query(idempotencyTableSql(name));
    await c.query(idempotencyTableSql(name));
    const { rows } = await c.query('SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position', [name]);
    expect(rows).toEqual([
      { column_name: 'key', data_type: 'text' },
      { column_name: 'state', data_type: 'text' },
      { column_name: 'token', data_type: 'text' },
      { column_name: 'result', data_type: 'bytea' },
      { column_name: 'expires_at', data_type: 'timestamp with time zone' },
    ]);
    const index = await c.query('SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexname = $2', [name, `${name}_expires_at_idx`]);
    expect(index.rows[0]?.indexdef).toMatch(/\(expires_at\)/);
  });

  it('without createTable, a missing table fails closed and says to run the migration', async () => {
    const name = table('missing');
    const s = store({ table: name, createTable: false });
    await expect(s.claim('k', { leaseMs: 1000 })).rejects.toMatchObject({
      code: 'ERR_IDEMPOTENCY_STORE',
      message: expect.stringMatching(new RegExp(`table "${name}" does not exist.*migrations/001_switchyard_idempotency\\.sql.*createTable: true`)),
    });
    await (await client()).query(idempotencyTableSql(name));
    expect((await s.claim('k', { leaseMs: 1000 })).status).toBe('claimed');
  });

  it('keeps one row per key: claimed with token and lease, then done with the result bytes and its TTL', async () => {
    const name = table('layout');
    const s = store({ table: name });
    const token = await claimed(s, 'billing:m-1', 30_000);
    const c = await client();
    const row = async () =>
      (
        await c.query(
          `SELECT state, token, convert_from(result, 'UTF8') AS result, round(extract(epoch FROM expires_at - clock_timestamp()))::int AS seconds_left FROM "${name}" WHERE key = $1`,
          ['billing:m-1'],
        )
      ).rows[0];
    expect(await row()).toMatchObject({ state: 'claimed', token, result: null });
    expect((await row()).seconds_left).toBeGreaterThan(25);
    expect(await s.complete('billing:m-1', token, { ttlMs: 3_600_000, result: '{"ok":"✓"}' })).toBe(true);
    expect(await row()).toMatchObject({ state: 'done', token, result: '{"ok":"✓"}' });
    expect((await row()).seconds_left).toBeGreaterThan(3500);
  });

  it('works in another schema ("schema.table")', async () => {
    const schema = uniqueTable('schema');
    const c = await client();
    await c.query(`CREATE SCHEMA "${schema}"`);
    cleanups.push(() => c.query(`DROP SCHEMA "${schema}" CASCADE`));
    const s = store({ table: `${schema}.idem` });
    await s.complete('k', await claimed(s, 'k'), { ttlMs: 60_000, result: 'r' });
    expect(await s.claim('k', { leaseMs: 1000 })).toEqual({ status: 'done', result: 'r' });
    expect((await c.query(`SELECT count(*)::int AS n FROM "${schema}".idem`)).rows[0]).toEqual({ n: 1 });
  });
});

describe('completeIn: the done mark in the handler transaction', () => {
  /** The app's side of a handler: its own table and a transaction on its own connection. */
  async function app(label: string) {
    const effects = table(`${label}_effects`);
    const c = await client();
    await c.query(`CREATE TABLE "${effects}" (order_id text PRIMARY KEY)`);
    return { c, count: async () => (await c.query(`SELECT count(*)::int AS n FROM "${effects}"`)).rows[0].n as number, insert: `INSERT INTO "${effects}" (order_id) VALUES ($1)` };
  }

  it('commits effect and mark together; the runner complete afterwards is true and adds the reply', async () => {
    const s = store({ table: table('commit') });
    const { c, count, insert } = await app('commit');
    const token = await claimed(s, 'orders:o-1');
    await c.query('BEGIN');
    await c.query(insert, ['o-1']);
    await s.completeIn(c, 'orders:o-1', token, { ttlMs: 60_000 });
    await c.query('COMMIT');
    expect(await count()).toBe(1);
    expect(await s.complete('orders:o-1', token, { ttlMs: 60_000, result: 'reply' }), "the runner's complete after the app's").toBe(true);
    expect(await s.claim('orders:o-1', { leaseMs: 1000 })).toEqual({ status: 'done', result: 'reply' });
  });

  it('rolls back with the transaction: no effect, the claim still held, released by the runner', async () => {
    const s = store({ table: table('rollback') });
    const { c, count, insert } = await app('rollback');
    const token = await claimed(s, 'orders:o-2');
    await c.query('BEGIN');
    await c.query(insert, ['o-2']);
    await s.completeIn(c, 'orders:o-2', token, { ttlMs: 60_000 });
    await c.query('ROLLBACK');
    expect(await count()).toBe(0);
    expect(await s.claim('orders:o-2', { leaseMs: 1000 })).toEqual({ status: 'busy' });
    expect(await s.release('orders:o-2', token)).toBe(true);
    expect((await s.claim('orders:o-2', { leaseMs: 1000 })).status).toBe('claimed');
  });

  it('refuses a handler whose claim was taken over, so its transaction rolls back', async () => {
    const s = store({ table: table('lost') });
    const { c, count, insert } = await app('lost');
    const stale = await claimed(s, 'orders:o-3', 1000);
    await lapsed(s, 1000);
    await claimed(s, 'orders:o-3'); // another instance took it over
    await c.query('BEGIN');
    await c.query(insert, ['o-3']);
    await expect(s.completeIn(c, 'orders:o-3', stale, { ttlMs: 60_000 })).rejects.toMatchObject({
      code: 'ERR_IDEMPOTENCY_CLAIM_LOST',
      message: expect.stringMatching(/Roll the transaction back/),
    });
    await c.query('ROLLBACK');
    expect(await count()).toBe(0);
    expect(await s.claim('orders:o-3', { leaseMs: 1000 })).toEqual({ status: 'busy' });
  });

  it('holds off a take-over while the mark is uncommitted, even past the lease; the claimant then sees done', async () => {
    const s = store({ table: table('inflight') });
    const other = store({ table: s.table });
    const { c, count, insert } = await app('inflight');
    const token = await claimed(s, 'orders:o-4', 1000);
    await c.query('BEGIN');
    await c.query(insert, ['o-4']);
    await s.completeIn(c, 'orders:o-4', token, { ttlMs: 60_000 });
    await lapsed(s, 1000); // the claim's lease is over; only the uncommitted mark stands in the way
    const takeover = other.claim('orders:o-4', { leaseMs: 30_000 });
    takeover.catch(() => undefined); // awaited below; don't report it twice if the poll fails first
    const watcher = await client();
    // The event to wait for: the other claim is blocked on the row lock of our transaction.
    await expect
      .poll(async () => (await watcher.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH taken AS%'")).rows[0].n, {
        timeout: 10_000,
        interval: 20,
      })
      .toBeGreaterThan(0);
    await c.query('COMMIT');
    expect(await takeover).toEqual({ status: 'done' });
    expect(await count()).toBe(1);
  });
});

describe('purgeExpired', () => {
  it('deletes lapsed claims and expired done marks in batches, keeps live ones, skips rows a transaction holds', async () => {
    const name = table('purge');
    const s = store({ table: name });
    for (let i = 0; i < 5; i++) await claimed(s, `lapsing-${i}`, 1000);
    for (let i = 0; i < 4; i++) await s.complete(`expiring-${i}`, await claimed(s, `expiring-${i}`), { ttlMs: 1000 });
    const live = await claimed(s, 'live-claim', 60_000);
    await s.complete('live-done', await claimed(s, 'live-done'), { ttlMs: 60_000, result: 'kept' });
    await lapsed(s, 1000); // its marker row ends up claimed again, live
    const holder = await client();
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM "${name}" WHERE key = 'lapsing-0' FOR UPDATE`);
    // 5 + 4 expired, one of them locked: 8 go, in batches of 2.
    expect(await s.purgeExpired({ batchSize: 2 })).toBe(8);
    await holder.query('ROLLBACK');
    const c = await client();
    const keys = (await c.query(`SELECT key FROM "${name}" WHERE key NOT LIKE 'marker-%' ORDER BY key`)).rows.map((r: { key: string }) => r.key);
    expect(keys).toEqual(['lapsing-0', 'live-claim', 'live-done']);
    expect(await s.purgeExpired()).toBe(1);
    expect(await s.claim('live-claim', { leaseMs: 1000 })).toEqual({ status: 'busy' });
    expect(await s.claim('live-done', { leaseMs: 1000 })).toEqual({ status: 'done', result: 'kept' });
    expect(await s.release('live-claim', live)).toBe(true);
    await expect(s.purgeExpired({ batchSize: 0 })).rejects.toThrow(/batchSize/);
  });
});

describe('postgresIdempotencyStore', () => {
  it('leaves a pool it was given open on close, and ends the one it made', async () => {
    const name = table('owned');
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    cleanups.push(() => pool.end());
    const given = postgresIdempotencyStore({ pool, table: name, createTable: true });
    expect((await given.claim('a', { leaseMs: 1000 })).status).toBe('claimed');
    await given.close();
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await given.claim('b', { leaseMs: 1000 })).status).toBe('claimed');

    const own = postgresIdempotencyStore({ connectionString: POSTGRES_URL, table: name });
    expect((await own.claim('c', { leaseMs: 1000 })).status).toBe('claimed');
    await own.close();
    await own.close();
    await expect(own.claim('d', { leaseMs: 1000 })).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
  });

  it('refuses bad options with a message that says what to pass', () => {
    expect(() => postgresIdempotencyStore({} as never)).toThrow(/exactly one of `pool`.*or `connectionString`/);
    expect(() => postgresIdempotencyStore({ pool: {} as never })).toThrow(/pg Pool/);
    expect(() => postgresIdempotencyStore({ connectionString: 'mysql://u:hunter2@h/db' })).toThrow(/postgres:\/\//);
    expect(() => postgresIdempotencyStore({ connectionString: 'mysql://u:hunter2@h/db' })).not.toThrow(/hunter2/);
    expect(() => postgresIdempotencyStore({ connectionString: POSTGRES_URL, table: 'Robert"; DROP TABLE x; --' })).toThrow(/`table` must be/);
    expect(() => postgresIdempotencyStore({ connectionString: POSTGRES_URL, table: 'a.b.c' })).toThrow(/schema\.name/);
    expect(() => postgresIdempotencyStore({ connectionString: POSTGRES_URL, commandTimeoutMs: -1 })).toThrow(/commandTimeoutMs/);
    expect(() => postgresIdempotencyStore({ connectionString: POSTGRES_URL, poolSize: 0 })).toThrow(/poolSize/);
  });

  it('never puts the password in errors, whether the server is unreachable or refuses the login', async () => {
    const target = new URL(POSTGRES_URL);
    const proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    cleanups.push(() => proxy.close());
    proxy.cut();
    const password = `pw-${randomUUID()}`;
    for (const base of [proxy.url(POSTGRES_URL), POSTGRES_URL]) {
      const url = new URL(base);
      url.password = password;
      const s = postgresIdempotencyStore({ connectionString: url.toString(), table: 'switchyard_idempotency', commandTimeoutMs: 2000 });
      cleanups.push(() => s.close());
      const error = await s.claim('k', { leaseMs: 1000 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toMatchObject({ message: expect.stringMatching(/claim "k"|idempotency claim of "k"/) });
      expect((error as Error).message).not.toContain(password);
      expect(JSON.stringify(error)).not.toContain(password);
    }
  });
});
