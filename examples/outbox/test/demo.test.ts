import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Message } from '@switchyard/core';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OrderPlaced } from '../src/contract.js';
import { runOutboxDemo } from '../src/demo.js';
import { startNotifications } from '../src/notifications.js';
import { OrderService } from '../src/order-service.js';
import { dropShopTables, shopTables } from '../src/tables.js';

const POSTGRES_URL = process.env['SWITCHYARD_TEST_POSTGRES_URL'] ?? 'postgres://switchyard:switchyard@127.0.0.1:5432/switchyard';
const prefix = `shop_test_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
const pool = new pg.Pool({ connectionString: POSTGRES_URL });

beforeAll(() => {
  pool.on('error', () => undefined);
});
afterAll(async () => {
  await dropShopTables(pool, shopTables(prefix));
  await pool.end();
});

it('tells the outbox story: two orders committed and emailed once each, the one over its credit rolled back with its event', async () => {
  const lines: string[] = [];
  const summary = await runOutboxDemo({ postgresUrl: POSTGRES_URL, busUrl: `memory://${prefix}-demo`, prefix, say: (l) => lines.push(l) });
  expect(summary.placed).toHaveLength(2);
  expect(summary.rejected).toHaveLength(1);
  expect([...summary.emailed].sort()).toEqual([...summary.placed].sort());
  const t = shopTables(prefix);
  const { rows: orders } = await pool.query(`SELECT id FROM ${t.orders} WHERE id = ANY($1)`, [[...summary.placed, ...summary.rejected]]);
  expect(orders.map((o) => o.id).sort()).toEqual([...summary.placed].sort()); // the rejected order left no row ...
  const { rows: events } = await pool.query(`SELECT convert_from(body, 'UTF8')::jsonb->>'orderId' AS order_id, status FROM ${t.outbox}`);
  expect(events.filter((e) => summary.rejected.includes(e.order_id))).toEqual([]); // ... and no event
  expect(lines.join('\n')).toMatch(/rolled back \(ken@example.com has not enough credit/);
});

it('a process killed right after COMMIT, before its relay ran, loses nothing: another instance publishes the event, emailed once', async () => {
  const script = fileURLToPath(new URL('../dist/place-order.js', import.meta.url));
  expect(existsSync(script), 'the child runs the built example: npm run build first').toBe(true);
  const orderId = `ord-crash-${randomUUID().slice(0, 6)}`;
  const child = spawn(process.execPath, [script, orderId, 'ada@example.com', '12.5', '--crash-after-commit'], {
    env: { ...process.env, SWITCHYARD_POSTGRES_URL: POSTGRES_URL, SHOP_PREFIX: prefix, SWITCHYARD_URL: 'memory://' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, s) => resolve(s)));
  expect(signal).toBe('SIGKILL');
  const [, , eventId] = /^committed (\S+) (\S+)$/m.exec(out) ?? [];
  expect(eventId, `child output: ${out}`).toBeDefined();

  // Committed and waiting: the order row and its event, nothing published.
  const t = shopTables(prefix);
  expect((await pool.query(`SELECT id FROM ${t.orders} WHERE id = $1`, [orderId])).rowCount).toBe(1);
  expect((await pool.query(`SELECT status FROM ${t.outbox} WHERE message_id = $1`, [eventId])).rows).toEqual([{ status: 'pending' }]);

  // Another instance of the order service (with its relay) and the notification service start.
  const busUrl = `memory://${prefix}-crash`;
  const emailed: Message<OrderPlaced>[] = [];
  let arrived!: () => void;
  const delivered = new Promise<void>((resolve) => (arrived = resolve));
  const notifications = await startNotifications(busUrl, (msg) => {
    emailed.push(msg);
    if (msg.id === eventId) arrived();
  });
  const survivor = await OrderService.open({ postgresUrl: POSTGRES_URL, busUrl, prefix });
  try {
    await delivered;
    await survivor.relay!.stop(); // finishes its batch: the row is marked sent
    expect((await survivor.relay!.stats()).published).toBe(1); // published once, by the survivor
    expect(emailed.filter((m) => m.id === eventId)).toHaveLength(1);
    expect(emailed.find((m) => m.id === eventId)!.body).toEqual({ orderId, customerEmail: 'ada@example.com', total: 12.5 });
  } finally {
    await survivor.close();
    await notifications.close();
  }
  expect((await pool.query(`SELECT status FROM ${t.outbox} WHERE message_id = $1`, [eventId])).rows).toEqual([{ status: 'sent' }]);
});
