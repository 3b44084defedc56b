import type pg from 'pg';

/** The shop's own tables; `prefix` keeps demo runs and tests apart in one database. */
export interface ShopTables {
  readonly customers: string;
  readonly orders: string;
  readonly outbox: string;
}

export function shopTables(prefix: string): ShopTables {
  if (!/^[a-z_][a-z0-9_]{0,30}$/.test(prefix)) throw new Error(`Table prefix must be 1-31 lower-case letters, digits or "_"; got "${prefix}".`);
  return { customers: `${prefix}_customers`, orders: `${prefix}_orders`, outbox: `${prefix}_outbox` };
}

/** Customers with a credit line (reset on every start), and orders that spend it. The outbox table is created by createOutbox. */
export async function createShopTables(pool: pg.Pool, t: ShopTables): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS ${t.customers} (email text PRIMARY KEY, credit numeric NOT NULL CHECK (credit >= 0));
    CREATE TABLE IF NOT EXISTS ${t.orders} (
      id text PRIMARY KEY,
      customer_email text NOT NULL REFERENCES ${t.customers} (email),
      total numeric NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO ${t.customers} (email, credit) VALUES ('ada@example.com', 500), ('grace@example.com', 500), ('ken@example.com', 100)
      ON CONFLICT (email) DO UPDATE SET credit = EXCLUDED.credit; -- a demo: every start tops the credit up again`);
}

export async function dropShopTables(pool: pg.Pool, t: ShopTables): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${t.orders}; DROP TABLE IF EXISTS ${t.customers}; DROP TABLE IF EXISTS ${t.outbox}; DROP FUNCTION IF EXISTS ${t.outbox}_notify();`);
}
