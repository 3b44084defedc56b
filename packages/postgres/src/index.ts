/**
 * @switchyard/postgres — an idempotency store on PostgreSQL for every instance of a service:
 *
 *   const store = postgresIdempotencyStore({ connectionString: process.env.DATABASE_URL!, createTable: true });
 *   await bus.subscribe('order.placed', handler, { idempotency: { store } });
 */
export { postgresIdempotencyStore, type PostgresIdempotencyStore, type PostgresIdempotencyStoreOptions, type PgQueryable } from './store.js';
export { ClaimLostError } from './errors.js';
export { IDEMPOTENCY_TABLE_SQL, idempotencyTableSql, DEFAULT_TABLE } from './table.js';
