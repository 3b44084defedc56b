/**
 * The relay against the real PostgreSQL and RabbitMQ (memory:// where the broker does not
 * matter): a crash between commit and publish, a broker outage, two relays on one table, rows
 * that can never be published, and a rolled-back transaction.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import { createBus, silentLogger, type Bus, type Message } from '@switchyard/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Collector, Fixture, LineReader, nextEvent, publishedBy, rabbitUrl, RABBITMQ_URL, unique, POSTGRES_URL } from './helpers.js';
import { CuttableProxy } from '@switchyard/conformance';

/** Our own exchange/queue prefix on the shared broker; test queues expire a minute after use. */
const AMQP_PREFIX = 'outboxtest';
const amqpOptions = { prefix: AMQP_PREFIX, queueExpiresMs: '60000' };

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(async () => {
  await fx.dispose();
});

async function rabbitBus(service: string, options: Record<string, string> = {}, port?: number): Promise<Bus> {
  const bus = await createBus({ url: rabbitUrl({ ...amqpOptions, ...options }, RABBITMQ_URL, port), service, logger: silentLogger });
  fx.defer(() => bus.close());
  return bus;
}

it('crash between commit and publish loses nothing: a new relay publishes the row once the dead relay’s lease ends, and the consumer gets it once', async () => {
  const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
  expect(existsSync(dist), 'the child process runs the built package: npm run build first').toBe(true);
  const outbox = await fx.outbox();
  const table = outbox.tableName;
  await fx.pool.query(`CREATE TABLE ${table}_orders (id text PRIMARY KEY, total int NOT NULL)`);
  fx.defer(() => fx.pool.query(`DROP TABLE ${table}_orders`));
  const topic = unique('order.placed');
  const orderId = unique('ord');

  // The consumer: subscribed before anything is published, so its queue keeps what comes.
  const consumer = await rabbitBus('crash-consumer');
  const received = new Collector();
  await consumer.subscribe(topic, received.handler, { group: 'billing' });

  // The child's bus goes through a proxy we cut once it is connected: its relay's publish hangs.
  const proxy = await CuttableProxy.start({ host: new URL(RABBITMQ_URL).hostname, port: Number(new URL(RABBITMQ_URL).port || 5672) });
  fx.defer(() => proxy.close());
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/crash-writer.mjs', import.meta.url))], {
    env: {
      ...process.env,
      OUTBOX_PG_URL: POSTGRES_URL,
      OUTBOX_AMQP_URL: rabbitUrl({ ...amqpOptions, publishTimeoutMs: '60000' }, RABBITMQ_URL, proxy.port),
      OUTBOX_TABLE: table,
      OUTBOX_TOPIC: topic,
      OUTBOX_ORDER_ID: orderId,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  fx.defer(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  const out = new LineReader();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));

  await out.until(/^ready$/, 20_000);
  proxy.cut();
  child.stdin.write('go\n');
  const [, messageId] = await out.until(/^committed (\S+)$/, 10_000);
  await out.until(new RegExp(`^publishing ${messageId}$`), 10_000);
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');

  // Committed: the order and its outbox row, claimed by the dead relay and never sent.
  const { rows: orders } = await fx.pool.query(`SELECT id FROM ${table}_orders`);
  expect(orders).toEqual([{ id: orderId }]);
  const [row] = await fx.rows(table);
  expect(row).toMatchObject({ message_id: messageId, status: 'pending', attempts: 0 });
  expect(row!.claimed_by).not.toBeNull();
  const leaseEnd = row!.claimed_until!.getTime();

  // A new instance's relay publishes it, but not before the dead relay's lease ended.
  const bus = await rabbitBus('crash-survivor');
  const relay = outbox.startRelay(bus, { pollIntervalMs: 100, logger: silentLogger });
  const published = nextEvent(relay.events, 'published', (e: { id: string }) => e.id === messageId, 15_000);
  await received.until((ms) => ms.some((m) => m.id === messageId), 15_000, 'the order event');
  expect(Date.now()).toBeGreaterThanOrEqual(leaseEnd);
  await published;
  const msg = received.messages.find((m) => m.id === messageId)!;
  expect(msg.body).toEqual({ orderId, total: 42 });
  expect(msg.key).toBe(orderId);

  // Exactly once: a marker sent after it arrives after it (one queue, one consumer), and by then the order came once.
  const { id: marker } = await bus.publish(topic, { marker: true });
  await received.until((ms) => ms.some((m) => m.id === marker), 10_000, 'the marker');
  expect(received.count(messageId!)).toBe(1);
  expect((await fx.rows(table))[0]).toMatchObject({ status: 'sent', claimed_by: null });
  await relay.stop();
});

it('broker down for 10 s: rows wait, then flow; none lost, none parked', async () => {
  const outbox = await fx.outbox();
  const topic = unique('order.placed');
  const consumer = await rabbitBus('outage-consumer');
  const received = new Collector();
  await consumer.subscribe(topic, received.handler, { group: 'billing', concurrency: 8 });

  // The relay's bus reaches RabbitMQ through the proxy; publishes give up after 1 s, so the outage shows as failures.
  const proxy = await CuttableProxy.start({ host: new URL(RABBITMQ_URL).hostname, port: Number(new URL(RABBITMQ_URL).port || 5672) });
  fx.defer(() => proxy.close());
  const bus = await rabbitBus('outage-relay', { publishTimeoutMs: '1000', reconnectMinMs: '100', reconnectMaxMs: '500' }, proxy.port);
  // maxAttempts 2 with a short backoff: if outage failures counted, rows would be parked within the outage.
  const relay = outbox.startRelay(bus, { pollIntervalMs: 100, maxAttempts: 2, retry: { initialDelayMs: 50, maxDelayMs: 200 }, logger: silentLogger });
  const sent = publishedBy(relay);

  const write = async (from: number, count: number) => {
    const ids: string[] = [];
    for (let n = from; n < from + count; n += 10) {
      await fx.tx(async (client) => {
        for (let i = n; i < Math.min(n + 10, from + count); i++) ids.push((await outbox.publish(client, topic, { n: i }, { key: `k${i % 5}` })).id);
      });
    }
    return ids;
  };

  const before = await write(0, 50);
  await received.until(() => before.every((id) => received.count(id) > 0), 15_000, 'the rows written before the outage');
  // Marked sent too: a consumer can get a message before its confirm reaches the relay, and a cut
  // in between would (rightly) leave the row pending, to be sent again.
  await sent.until((ids) => before.every((id) => ids.includes(id)), 10_000, 'the rows before the outage marked sent');

  proxy.cut();
  const during = await write(50, 100);
  const outageStart = Date.now();
  const deliveredBefore = received.messages.length;
  await sleep(10_000); // the outage itself is what is under test
  expect(Date.now() - outageStart).toBeGreaterThanOrEqual(10_000);
  const mid = await relay.stats();
  expect(received.messages.length).toBe(deliveredBefore); // nothing got through
  expect(mid.pendingRows).toBe(100);
  expect(mid.parkedRows).toBe(0);
  expect(mid.outageFailures).toBeGreaterThan(0); // publishes did fail, and were not counted against rows
  expect(mid.failures).toBe(0);
  expect(mid.oldestPendingAgeMs).toBeGreaterThanOrEqual(9_000);

  proxy.restore();
  await received.until(() => during.every((id) => received.count(id) > 0), 20_000, 'the rows written during the outage');
  await sent.until((ids) => ids.length >= 150, 10_000, 'every row marked sent');
  const after = await relay.stats();
  expect(after.pendingRows).toBe(0);
  expect(after.parkedRows).toBe(0);
  const statuses = (await fx.rows(outbox.tableName)).map((r) => ({ status: r.status, attempts: r.attempts }));
  expect(statuses).toHaveLength(150);
  for (const s of statuses) expect(s).toEqual({ status: 'sent', attempts: 0 });
  await relay.stop();
}, 45_000);

it('two relays on one table: one leads, no row is sent twice, and 500 rows over 10 keys keep per-key order through a hand-over', async () => {
  const outbox = await fx.outbox();
  const broker = `memory://${unique('two-relays')}`;
  const topic = 'order.placed';
  const open = async (service: string) => {
    const bus = await createBus({ url: broker, service, logger: silentLogger });
    fx.defer(() => bus.close());
    return bus;
  };
  const consumer = await open('consumer');
  const received = new Collector<{ key: string; seq: number }>();
  await consumer.subscribe(topic, (msg) => received.handler(msg as Message<{ key: string; seq: number }>), { concurrency: 1 });

  const options = { batchSize: 20, pollIntervalMs: 50, logger: silentLogger };
  const a = outbox.startRelay(await open('relay-a'), options);
  await nextEvent(a.events, 'leader', (leader: boolean) => leader, 10_000);
  const b = outbox.startRelay(await open('relay-b'), options);
  const leaders: string[] = ['a'];
  b.events.on('leader', (leader) => leader && leaders.push('b'));

  // Five writers, each owning two keys, 50 rows per key in transactions of 5.
  const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
  const writer = async (mine: string[]) => {
    for (let seq = 0; seq < 50; seq += 5) {
      await fx.tx(async (client) => {
        for (let s = seq; s < seq + 5; s++) for (const key of mine) await outbox.publish(client, topic, { key, seq: s }, { key });
      });
    }
  };
  const writing = Promise.all([0, 2, 4, 6, 8].map((i) => writer(keys.slice(i, i + 2))));

  // Halfway, the leader stops (a deploy): it finishes its batch and hands over.
  await received.until((ms) => ms.length >= 250, 20_000, '250 messages');
  expect(b.leader).toBe(false);
  expect((await b.stats()).published).toBe(0); // the standby claimed nothing while a led
  await a.stop();
  await writing;
  await received.until((ms) => ms.length >= 500, 20_000, '500 messages');
  expect(leaders).toEqual(['a', 'b']);
  await b.stop();

  // Drain: a marker per key, sent after everything; per-key delivery order means once each marker is in, so is the rest.
  for (const key of keys) await consumer.publish(topic, { key, seq: 1000 }, { key });
  await received.until((ms) => ms.filter((m) => m.body.seq === 1000).length === 10, 10_000, 'the markers');

  const rows = received.messages.filter((m) => m.body.seq < 1000);
  expect(rows).toHaveLength(500);
  expect(new Set(rows.map((m) => m.id)).size).toBe(500); // no row sent twice
  for (const key of keys) {
    expect(rows.filter((m) => m.key === key).map((m) => m.body.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  }
  const [statsA, statsB] = [await a.stats(), await b.stats()];
  expect(statsA.published + statsB.published).toBe(500);
  expect(statsA.published).toBeGreaterThan(0);
  expect(statsB.published).toBeGreaterThan(0);
});

it('a row that can never be published is parked after maxAttempts without blocking other keys, and can be re-queued', async () => {
  const outbox = await fx.outbox();
  const good = unique('order.placed');
  const refused = unique('order.refused');

  // RabbitMQ itself refuses every message for `refused`: a full queue with overflow reject-publish nacks the publish.
  const conn = await amqp.connect(RABBITMQ_URL);
  fx.defer(() => conn.close());
  const ch = await conn.createChannel();
  await ch.assertExchange(`${AMQP_PREFIX}.topics`, 'direct', { durable: true });
  const refusing = `${AMQP_PREFIX}-refuse-${refused}`;
  await ch.assertQueue(refusing, { durable: false, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish', 'x-expires': 60_000 } });
  await ch.bindQueue(refusing, `${AMQP_PREFIX}.topics`, refused);

  const consumer = await rabbitBus('parking-consumer');
  const received = new Collector();
  await consumer.subscribe(good, received.handler, { group: 'billing', concurrency: 8 });

  const bus = await rabbitBus('parking-relay', { maxPayloadBytes: '4096' });
  const { poison, behind, huge, others } = await fx.tx(async (client) => ({
    poison: (await outbox.publish(client, refused, { n: 'poison' }, { key: 'k-bad' })).id,
    behind: (await outbox.publish(client, good, { n: 'behind the poison' }, { key: 'k-bad' })).id,
    huge: (await outbox.publish(client, good, { blob: 'x'.repeat(5000) }, { key: 'k-big' })).id,
    others: await (async () => {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await outbox.publish(client, good, { n: i }, { key: `k-ok-${i}` })).id);
      return ids;
    })(),
  }));

  const order: string[] = [];
  const relay = outbox.startRelay(bus, { pollIntervalMs: 50, maxAttempts: 3, retry: { initialDelayMs: 300, maxDelayMs: 1000 }, logger: silentLogger });
  relay.events.on('published', (e) => order.push(`published ${e.id}`));
  relay.events.on('parked', (e) => order.push(`parked ${e.id}`));
  const poisonParked = nextEvent(relay.events, 'parked', (e: { id: string; error: string }) => e.id === poison, 15_000);
  const hugeParked = nextEvent(relay.events, 'parked', (e: { id: string; error: string }) => e.id === huge, 15_000);
  const sent = publishedBy(relay);
  await received.until(() => [behind, ...others].every((id) => received.count(id) === 1), 20_000, 'every publishable row');
  await sent.until((ids) => ids.includes(behind), 10_000, 'the row behind the poison marked sent');
  const [[poisonEvent], [hugeEvent]] = await Promise.all([poisonParked, hugeParked]);

  // Refused by the broker: retried with backoff, parked on the third failure, error text kept.
  expect(poisonEvent).toMatchObject({ attempts: 3 });
  expect(poisonEvent.error).toMatch(/refused|nack/i);
  // Too large for the bus: it would fail the same way every time, so it is parked at once.
  expect(hugeEvent).toMatchObject({ attempts: 1 });
  expect(hugeEvent.error).toMatch(/ERR_PAYLOAD_TOO_LARGE/);
  // Other keys were not held up: all of them went out before the poison was parked ...
  const parkedAt = order.indexOf(`parked ${poison}`);
  for (const id of others) expect(order.indexOf(`published ${id}`)).toBeLessThan(parkedAt);
  // ... and the row behind the poison on its key waited for it (per-key order), then went.
  expect(order.indexOf(`published ${behind}`)).toBeGreaterThan(parkedAt);

  const parked = await outbox.parked();
  expect(parked.map((p) => p.id).sort()).toEqual([poison, huge].sort());
  expect(parked.find((p) => p.id === poison)).toMatchObject({ topic: refused, key: 'k-bad', attempts: 3 });
  expect((await relay.stats()).parkedRows).toBe(2);

  // Fix the cause (the broker takes the topic again), re-queue: it is published.
  await ch.deleteQueue(refusing);
  await consumer.subscribe(refused, received.handler, { group: 'billing' });
  expect(await outbox.requeue({ ids: [poison] })).toBe(1);
  await received.until(() => received.count(poison) === 1, 10_000, 'the re-queued row');
  expect((await outbox.parked()).map((p) => p.id)).toEqual([huge]);
  await relay.stop();
});

it('a rolled-back transaction publishes nothing', async () => {
  const outbox = await fx.outbox();
  const bus = await createBus({ url: `memory://${unique('rollback')}`, service: 'orders', logger: silentLogger });
  fx.defer(() => bus.close());
  const received = new Collector();
  await bus.subscribe('order.placed', received.handler);
  const relay = outbox.startRelay(bus, { pollIntervalMs: 50, logger: silentLogger });

  let rolledBack = '';
  await expect(
    fx.tx(async (client) => {
      rolledBack = (await outbox.publish(client, 'order.placed', { orderId: 'o-rollback' })).id;
      throw new Error('payment declined'); // the order fails after the event was written
    }),
  ).rejects.toThrow('payment declined');
  const { id: committed } = await fx.tx((client) => outbox.publish(client, 'order.placed', { orderId: 'o-commit' }));

  await received.until((ms) => ms.some((m) => m.id === committed), 10_000, 'the committed order');
  expect(received.count(rolledBack)).toBe(0);
  expect((await fx.rows(outbox.tableName)).map((r) => r.message_id)).toEqual([committed]);
  await relay.stop();
});
