/**
 * outbox.publish: what it checks before writing, and that the relay republishes a row exactly
 * as bus.publish would have sent it (memory:// — the broker does not matter here).
 */
import { readFileSync } from 'node:fs';
import { createBus, defineContract, silentLogger, type Bus, type PublishOptions } from '@switchyard/core';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createOutbox, OUTBOX_SCHEMA_SQL } from '../src/index.js';
import { Collector, Fixture, POSTGRES_URL, publishedBy, unique } from './helpers.js';

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(async () => {
  await fx.dispose();
});

async function memoryBus(): Promise<Bus> {
  const bus = await createBus({ url: `memory://${unique('publish')}`, service: 'orders', logger: silentLogger });
  fx.defer(() => bus.close());
  return bus;
}

it('republishes faithfully: body encodings, headers, key, correlation and causation ids and contentType arrive as a direct bus.publish sends them', async () => {
  const outbox = await fx.outbox();
  const bus = await memoryBus();
  const viaOutbox = new Collector();
  const direct = new Collector();
  await bus.subscribe('via.outbox', viaOutbox.handler);
  await bus.subscribe('direct', direct.handler);

  const cases: { body: unknown; options: PublishOptions }[] = [
    { body: { orderId: 'o-1', total: 12.5, items: [{ sku: 'A', qty: 2 }], note: 'ünïcödé ✓', nothing: null }, options: {} },
    { body: [1, 'two', false], options: { key: 'k-1', headers: { tenant: 'acme', 'x.trace-me': 'yes' } } },
    { body: 42, options: { correlationId: 'corr-1', causationId: 'cause-1' } },
    { body: 'plain text, with a newline\nand emoji 🚚', options: {} },
    { body: 'a,b\n1,2', options: { contentType: 'text/csv; charset=utf-8' } },
    { body: new Uint8Array([0, 255, 1, 254, 0]), options: {} },
    { body: new Uint8Array([7, 7]), options: { contentType: 'application/x-protobuf' } },
    { body: new Uint8Array(0), options: {} },
    { body: undefined, options: {} },
    { body: { cloud: 'event' }, options: { contentType: 'application/cloudevents+json' } },
  ];
  const ids = await fx.tx(async (client) => {
    const out: string[] = [];
    for (const c of cases) out.push((await outbox.publish(client, 'via.outbox', c.body, c.options)).id);
    return out;
  });
  for (const c of cases) await bus.publish('direct', c.body, c.options);
  const relay = outbox.startRelay(bus, { pollIntervalMs: 50, logger: silentLogger });
  await viaOutbox.until((ms) => ms.length === cases.length, 10_000, 'every outbox row');
  await direct.until((ms) => ms.length === cases.length, 10_000, 'every direct publish');

  const shape = (m: (typeof direct.messages)[number]) => ({
    body: m.body,
    key: m.key,
    headers: m.headers,
    contentType: m.contentType,
    causationId: m.causationId,
    // A direct publish without correlationId correlates to its own id; compare that rule, not the random id.
    correlation: m.correlationId === m.id ? 'own id' : m.correlationId,
  });
  const fromOutbox = ids.map((id) => shape(viaOutbox.messages.find((m) => m.id === id)!));
  const fromDirect = direct.messages.map(shape); // one consumer, no keys but one: arrives in publish order
  expect(fromOutbox).toEqual(fromDirect);
  expect(fromOutbox[1]).toMatchObject({ key: 'k-1', headers: { tenant: 'acme', 'x.trace-me': 'yes' } });
  expect(fromOutbox[2]).toMatchObject({ correlation: 'corr-1', causationId: 'cause-1' });
  expect(fromOutbox[4]).toMatchObject({ body: 'a,b\n1,2', contentType: 'text/csv; charset=utf-8' });
  expect(fromOutbox[5]!.body).toEqual(new Uint8Array([0, 255, 1, 254, 0]));
  // The id returned by outbox.publish is the id consumers see.
  expect(viaOutbox.messages.map((m) => m.id).sort()).toEqual([...ids].sort());
  await relay.stop();
});

it('keeps delayMs relative to when the row was written', async () => {
  const outbox = await fx.outbox();
  const bus = await memoryBus();
  const received = new Collector();
  await bus.subscribe('later', received.handler);
  const relay = outbox.startRelay(bus, { pollIntervalMs: 50, logger: silentLogger });
  const sent = publishedBy(relay);
  const writtenAt = Date.now();
  const { id } = await fx.tx((client) => outbox.publish(client, 'later', { n: 1 }, { delayMs: 700 }));
  await sent.until((ids) => ids.includes(id), 5000, 'the delayed row published');
  expect(received.count(id)).toBe(0); // published at once, held by the broker
  await received.until((ms) => ms.some((m) => m.id === id), 5000, 'the delayed message');
  expect(Date.now() - writtenAt).toBeGreaterThanOrEqual(690);
  await relay.stop();
});

it('refuses what bus.publish would refuse before writing anything, and leaves the transaction usable', async () => {
  const outbox = await fx.outbox();
  const bad: [string, unknown, PublishOptions | Record<string, unknown>, RegExp][] = [
    ['not a topic!', {}, {}, /Invalid topic name/],
    ['ok', {}, { keey: 'typo' }, /Unknown outbox.publish option "keey"/],
    ['ok', {}, { id: '' }, /id must be a non-empty string/],
    ['ok', {}, { id: 'x'.repeat(257) }, /at most 256 bytes/],
    ['ok', {}, { correlationId: 'a\nb' }, /line break/],
    ['ok', {}, { key: 'k'.repeat(1025) }, /key is 1025 bytes/],
    ['ok', {}, { headers: { 'ce-id': 'mine' } }, /reserved/],
    ['ok', {}, { headers: { tenant: 7 } }, /must be a string/],
    ['ok', {}, { headers: { big: 'v'.repeat(4097) } }, /at most 4096 bytes/],
    ['ok', {}, { delayMs: -1 }, /delayMs must be an integer/],
    ['ok', {}, { contentType: 'text/plain' }, /needs a string or Uint8Array body/],
    ['ok', { n: 1n }, {}, /cannot be serialized as JSON/],
    ['ok', () => 1, {}, /cannot be serialized as JSON/],
    ['ok', {}, { extensions: { Bad: 'x' } }, /lower-case letters or digits/],
    ['ok', {}, { subject: 'o-1', extensions: { tenant: 'acme' } }, /does not store the CloudEvents option\(s\) subject, extensions/],
  ];
  await fx.tx(async (client) => {
    for (const [topic, body, options, message] of bad) {
      const attempt = outbox.publish(client, topic, body, options as PublishOptions);
      await expect(attempt).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(message) });
    }
    // Nothing was sent to the server, so the transaction is intact and can go on.
    await outbox.publish(client, 'ok', { fine: true });
  });
  const rows = await fx.rows(outbox.tableName);
  expect(rows).toHaveLength(1);
  await expect(outbox.publish({} as pg.PoolClient, 'ok', {})).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
});

it('with a contract, checks bodies against the topic schema in the transaction', async () => {
  const contract = defineContract({ 'order.placed': z.object({ orderId: z.string(), total: z.number().nonnegative() }) });
  const outbox = await createOutbox({ pool: fx.pool, table: unique('outbox_contract'), createTable: true, contract });
  fx.defer(async () => {
    await fx.pool.query(`DROP TABLE ${outbox.tableName}`);
    await fx.pool.query(`DROP FUNCTION ${outbox.tableName}_notify()`);
  });
  await fx.tx(async (client) => {
    await expect(outbox.publish(client, 'order.placed', { orderId: 'o-1', total: -1 })).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(/total/) });
    await outbox.publish(client, 'order.placed', { orderId: 'o-1', total: 10 });
    await outbox.publish(client, 'not.in.contract', 'anything goes');
  });
  expect(await fx.rows(outbox.tableName)).toHaveLength(2);
});

it('ships its DDL: the migration file is OUTBOX_SCHEMA_SQL, and it is safe to run twice', async () => {
  const migration = readFileSync(new URL('../migrations/001_switchyard_outbox.sql', import.meta.url), 'utf8');
  expect(migration).toBe(OUTBOX_SCHEMA_SQL);
  const schema = unique('outbox_schema');
  await fx.pool.query(`CREATE SCHEMA ${schema}`);
  fx.defer(() => fx.pool.query(`DROP SCHEMA ${schema} CASCADE`));
  const client = await fx.pool.connect();
  try {
    await client.query(`SET search_path TO ${schema}`);
    await client.query(migration);
    await client.query(migration);
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = $1 AND tablename = 'switchyard_outbox'`, [schema]);
    expect(rows[0].n).toBe(6); // primary key + 5
  } finally {
    client.release();
  }
  // A schema-qualified table name works the same, and an outbox on it starts without createTable.
  await createOutbox({ pool: fx.pool, table: `${schema}.orders_outbox`, createTable: true });
  const existing = await createOutbox({ pool: fx.pool, table: `${schema}.orders_outbox` });
  expect(existing.tableName).toBe(`${schema}.orders_outbox`);
});

it('fails fast with errors that say what to do and never show the password', async () => {
  await expect(createOutbox({ pool: fx.pool, table: unique('missing') })).rejects.toMatchObject({
    code: 'ERR_CONFIGURATION',
    message: expect.stringMatching(/does not exist.*createTable: true/),
  });
  await expect(createOutbox({ pool: fx.pool, table: 'Bad-Name' })).rejects.toMatchObject({
    code: 'ERR_CONFIGURATION',
    message: expect.stringMatching(/Invalid outbox table name/),
  });
  await expect(createOutbox({ pool: fx.pool, connectionString: POSTGRES_URL })).rejects.toMatchObject({ code: 'ERR_CONFIGURATION', message: expect.stringMatching(/exactly one/) });
  const wrong = new URL(POSTGRES_URL);
  wrong.password = 's3cret-pw';
  const refused = createOutbox({ connectionString: wrong.toString(), table: unique('never') });
  await expect(refused).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
  const message = await refused.catch((err: Error) => `${err.message} ${String(err.cause ?? '')}`);
  expect(message).not.toContain('s3cret-pw');
  const outbox = await fx.outbox();
  const bus = await memoryBus();
  expect(() => outbox.startRelay(bus, { batchSize: 0 })).toThrow(/batchSize must be an integer from 1/);
  expect(() => outbox.startRelay(bus, { pollInterval: 5 } as never)).toThrow(/Unknown startRelay option "pollInterval"/);
  const single = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
  fx.defer(() => single.end());
  const starved = await createOutbox({ pool: single, table: outbox.tableName });
  expect(() => starved.startRelay(bus)).toThrow(/at least 2 connections/);
});
