/**
 * The notification service: emails the customer once per order. The relay publishes at least
 * once (a crash after a publish but before it is marked sent means a second copy, with the same
 * message id), so the handler is idempotent by message id. The memory store is enough for one
 * process; several instances share a Redis or PostgreSQL idempotency store.
 */
import { createBus, memoryIdempotencyStore, silentLogger, type Bus, type Message } from '@switchyard/core';
import { shop, type OrderPlaced } from './contract.js';

export async function startNotifications(busUrl: string, onEmail: (msg: Message<OrderPlaced>) => void): Promise<Bus<typeof shop>> {
  const bus = await createBus({ url: busUrl, service: 'notifications', contract: shop, logger: silentLogger });
  await bus.subscribe('order.placed', async (msg) => onEmail(msg), { idempotency: { store: memoryIdempotencyStore() } });
  return bus;
}
