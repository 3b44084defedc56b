/**
 * The order service: an order row, the customer's credit and the order.placed event change in
 * ONE PostgreSQL transaction. The event is a row in the outbox table; the relay publishes it
 * after commit. So there is never an order without its event, nor an event without its order —
 * even if the process dies between COMMIT and the publish.
 */
import { createBus, silentLogger, type Bus, type Logger } from '@switchyard/core';
import { createOutbox, type Outbox, type Relay } from '@switchyard/outbox-postgres';
import pg from 'pg';
import { shop, type OrderPlaced } from './contract.js';
import { createShopTables, shopTables, type ShopTables } from './tables.js';

export interface OrderServiceOptions {
  postgresUrl: string;
  /** Where the relay publishes: memory://name, amqp://... */
  busUrl: string;
  /** Table prefix (default "shop"). */
  prefix?: string;
  /** Start the relay now (default true). A process that only writes can leave it to another instance. */
  relay?: boolean;
  logger?: Logger;
}

/** The business said no: nothing of the order is kept, and no event goes out. */
export class OrderRejected extends Error {}

export class OrderService {
  private constructor(
    readonly pool: pg.Pool,
    readonly tables: ShopTables,
    readonly outbox: Outbox<typeof shop>,
    readonly bus: Bus<typeof shop>,
    readonly relay: Relay | undefined,
  ) {}

  static async open(options: OrderServiceOptions): Promise<OrderService> {
    const logger = options.logger ?? silentLogger;
    const tables = shopTables(options.prefix ?? 'shop');
    const pool = new pg.Pool({ connectionString: options.postgresUrl });
    pool.on('error', (err) => logger.warn('PostgreSQL pool error', { error: err.message }));
    await createShopTables(pool, tables);
    const outbox = await createOutbox({ pool, table: tables.outbox, createTable: true, contract: shop, logger });
    const bus = await createBus({ url: options.busUrl, service: 'orders', contract: shop, logger });
    const relay = options.relay === false ? undefined : outbox.startRelay(bus, { pollIntervalMs: 500, logger });
    return new OrderService(pool, tables, outbox, bus, relay);
  }

  /**
   * Insert the order, write its event, charge the customer's credit — one transaction.
   * `afterCommit` runs right after COMMIT (the crash demo kills the process there).
   */
  async placeOrder(order: OrderPlaced, afterCommit?: (eventId: string) => void): Promise<{ eventId: string }> {
    const { orders, customers } = this.tables;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${orders} (id, customer_email, total) VALUES ($1, $2, $3)`, [order.orderId, order.customerEmail, order.total]);
      const { id } = await this.outbox.publish(client, 'order.placed', order, { key: order.orderId, correlationId: order.orderId });
      const charged = await client.query(`UPDATE ${customers} SET credit = credit - $2 WHERE email = $1 AND credit >= $2`, [order.customerEmail, order.total]);
      // The check comes after the event was written on purpose: ROLLBACK takes the event back too.
      if (charged.rowCount !== 1) throw new OrderRejected(`${order.customerEmail} has not enough credit for ${order.total}`);
      await client.query('COMMIT');
      afterCommit?.(id);
      return { eventId: id };
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.relay?.stop();
    await this.bus.close();
    await this.outbox.close();
    await this.pool.end();
  }
}
