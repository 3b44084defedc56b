/**
 * The order-processing story (`switchyard demo`, and `npm start` through examples/order-processing).
 * The order flow as four small services, each with its own bus (in a real deployment, its own
 * process): the broker URL is the only thing that decides where messages travel.
 */
import { randomUUID } from 'node:crypto';
import { createBus, silentLogger, type Message } from '@switchyard/core';
import { redactUrl } from '@switchyard/core/spi';
import { shop, type OrderPlaced } from './contract.js';

export interface DemoOptions {
  url: string;
  /** Where the story goes. */
  say: (line: string) => void;
}

export interface DemoSummary {
  placed: string[];
  rejected: string[];
  notified: string[];
  reported: string[];
  deadLettered: { orderId: string; reason: string }[];
}

const stock: Record<string, number> = { 'KB-01': 5, 'MS-02': 2, 'HD-03': 0 };

export async function runOrderDemo({ url, say }: DemoOptions): Promise<DemoSummary> {
  // A run id keeps this run's orders apart from anything a persistent broker kept from earlier runs.
  const run = randomUUID().slice(0, 6);
  const orderId = (n: number) => `ord-${run}-${n}`;
  const mine = (id: string) => id.startsWith(`ord-${run}-`);
  const summary: DemoSummary = { placed: [], rejected: [], notified: [], reported: [], deadLettered: [] };
  const buses: { close(): Promise<void> }[] = [];
  const open = async (service: string) => {
    const bus = await createBus({ url, service, contract: shop, logger: silentLogger });
    buses.push(bus);
    return bus;
  };

  const expectedNotified = 3; // orders 1, 2 and 4; order 3 is out of stock
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const checkDone = () => {
    if (summary.notified.length >= expectedNotified && summary.reported.length >= expectedNotified && summary.deadLettered.length >= 2) finish();
  };

  try {
    say(`Connecting four services to ${redactUrl(url)} ...`);
    const inventory = await open('inventory');
    const notifications = await open('notifications');
    const reporting = await open('reporting');
    const ops = await open('ops');
    const orders = await open('orders');

    // Inventory answers synchronously-looking questions over the broker (request/reply).
    await inventory.reply('inventory.check', async (req) => {
      const inStock = stock[req.body.sku] ?? 0;
      return { sku: req.body.sku, available: inStock >= req.body.qty, inStock };
    });

    // Two teams react to the same event independently: each group gets its own copy (fan-out).
    await notifications.subscribe(
      'order.placed',
      async (msg: Message<OrderPlaced>) => {
        if (!mine(msg.body.orderId)) return;
        say(`  [notifications] emailing ${msg.body.customerEmail}: order ${msg.body.orderId} confirmed (correlation ${msg.correlationId})`);
        summary.notified.push(msg.body.orderId);
        checkDone();
      },
      { retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 500, factor: 2 } },
    );
    await reporting.subscribe('order.placed', async (msg: Message<OrderPlaced>) => {
      if (!mine(msg.body.orderId)) return;
      say(`  [reporting]     revenue +${msg.body.total.toFixed(2)} from ${msg.body.orderId}`);
      summary.reported.push(msg.body.orderId);
      checkDone();
    });

    // Messages that can never be handled end up in order.placed.dlq with the reason attached.
    // Each subscribing group keeps the dead letters in its own queue; ops reads the notification team's.
    await ops.subscribe(
      'order.placed.dlq',
      async (msg) => {
        const body = msg.body as Partial<OrderPlaced>;
        if (typeof body.orderId !== 'string' || !mine(body.orderId)) return;
        const reason = msg.headers['x-switchyard-error'] ?? 'unknown';
        say(`  [ops]           dead letter from ${msg.headers['x-switchyard-group']}: ${body.orderId} — ${reason}`);
        summary.deadLettered.push({ orderId: body.orderId, reason });
        checkDone();
      },
      { group: 'notifications', retry: false, deadLetter: false },
    );

    say('\nThe order service takes four orders. For each it asks inventory first (request/reply):');
    const carts = [
      { n: 1, email: 'ada@example.com', items: [{ sku: 'KB-01', qty: 1 }], total: 89.9 },
      { n: 2, email: 'grace@example.com', items: [{ sku: 'MS-02', qty: 2 }], total: 59.8 },
      { n: 3, email: 'linus@example.com', items: [{ sku: 'HD-03', qty: 1 }], total: 120 },
      {
        n: 4,
        email: 'ken@example.com',
        items: [
          { sku: 'KB-01', qty: 2 },
          { sku: 'MS-02', qty: 1 },
        ],
        total: 209.7,
      },
    ];
    for (const cart of carts) {
      const id = orderId(cart.n);
      const answers = await Promise.all(cart.items.map((item) => orders.request('inventory.check', item, { timeoutMs: 10_000, correlationId: id })));
      const missing = answers.filter((a) => !a.available);
      if (missing.length > 0) {
        say(`  [orders]        ${id}: rejected, ${missing.map((a) => `${a.sku} has ${a.inStock} in stock`).join(', ')}`);
        summary.rejected.push(id);
        continue;
      }
      await orders.publish('order.placed', { orderId: id, customerEmail: cart.email, items: cart.items, total: cart.total }, { key: id, correlationId: id });
      say(`  [orders]        ${id}: in stock, published order.placed (confirmed by the broker)`);
      summary.placed.push(id);
    }

    say('\nAn old client that skips validation sends a malformed order (no customer email):');
    const legacy = await createBus({ url, service: 'legacy-checkout', logger: silentLogger });
    buses.push(legacy);
    await legacy.publish('order.placed', { orderId: orderId(99), items: [{ sku: 'KB-01', qty: 1 }], total: 89.9 });
    say(`  [legacy]        ${orderId(99)}: published without customerEmail`);
    say('  Consumers validate it against the contract, cannot handle it, and dead-letter it at once (no retry loop):');

    await finished;
    say(
      `\nDone: ${summary.placed.length} placed, ${summary.rejected.length} rejected by inventory, ` +
        `${summary.notified.length} notified, ${summary.reported.length} reported, ${summary.deadLettered.length} dead-lettered.`,
    );
    return summary;
  } finally {
    await Promise.allSettled(buses.map((b) => b.close()));
  }
}
