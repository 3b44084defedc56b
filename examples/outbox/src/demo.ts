/**
 * The story: three orders, one of them over its customer's credit. The two that commit are
 * emailed exactly once; the rejected one was written to the outbox and then rolled back, so
 * nobody hears of it.
 */
import { randomUUID } from 'node:crypto';
import type { Message } from '@switchyard/core';
import type { OrderPlaced } from './contract.js';
import { startNotifications } from './notifications.js';
import { OrderRejected, OrderService } from './order-service.js';

export interface DemoOptions {
  postgresUrl: string;
  busUrl: string;
  /** Table prefix (default "shop"). */
  prefix?: string;
  say: (line: string) => void;
}

export interface DemoSummary {
  placed: string[];
  rejected: string[];
  emailed: string[];
}

export async function runOutboxDemo({ postgresUrl, busUrl, prefix = 'shop', say }: DemoOptions): Promise<DemoSummary> {
  // A run id keeps this run's orders apart from earlier runs (the tables and a persistent broker keep them).
  const run = randomUUID().slice(0, 6);
  const summary: DemoSummary = { placed: [], rejected: [], emailed: [] };
  // Resolves once every committed order was emailed (checked on each email and after the last order).
  let allEmailed!: () => void;
  const emailedAll = new Promise<void>((resolve) => (allEmailed = resolve));
  let placing = true;
  const checkDone = () => {
    if (!placing && summary.placed.every((id) => summary.emailed.includes(id))) allEmailed();
  };

  const notifications = await startNotifications(busUrl, (msg: Message<OrderPlaced>) => {
    if (!msg.body.orderId.includes(run)) return;
    say(`  [notifications] emailing ${msg.body.customerEmail}: order ${msg.body.orderId} confirmed (message ${msg.id})`);
    summary.emailed.push(msg.body.orderId);
    checkDone();
  });
  const orders = await OrderService.open({ postgresUrl, busUrl, prefix });
  try {
    say(`The order service writes each order and its order.placed event in one transaction (tables ${orders.tables.orders}, ${orders.tables.outbox}).`);
    const carts: OrderPlaced[] = [
      { orderId: `ord-${run}-1`, customerEmail: 'ada@example.com', total: 89.9 },
      { orderId: `ord-${run}-2`, customerEmail: 'grace@example.com', total: 59.8 },
      { orderId: `ord-${run}-3`, customerEmail: 'ken@example.com', total: 420 },
    ];
    for (const order of carts) {
      try {
        const { eventId } = await orders.placeOrder(order);
        summary.placed.push(order.orderId);
        say(`  [orders]        ${order.orderId}: committed with its event ${eventId}; the relay publishes it`);
      } catch (err) {
        if (!(err instanceof OrderRejected)) throw err;
        summary.rejected.push(order.orderId);
        say(`  [orders]        ${order.orderId}: rolled back (${err.message}); its event was rolled back with it`);
      }
    }
    placing = false;
    checkDone();
    await emailedAll;
    const stats = await orders.relay!.stats();
    say(
      `\nDone: ${summary.placed.length} placed, ${summary.rejected.length} rejected, ${summary.emailed.length} emailed; relay published ${stats.published}, ${stats.pendingRows} pending.`,
    );
    return summary;
  } finally {
    await orders.close();
    await notifications.close();
  }
}
