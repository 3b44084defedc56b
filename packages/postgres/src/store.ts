import { ConfigurationError, silentLogger, type ClaimResult, type IdempotencyStore, type Logger } from '@switchyard/core';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ClaimLostError, scrub, storeError } from './errors.js';
import { queries } from './queries.js';
import { idempotencyTableSql, tableName } from './table.js';

/**
 * What the store needs to run a statement: a `pg` Pool, PoolClient or Client all fit. Typed here
 * rather than imported from @types/pg so apps need no @types/pg and any pg 8 copy works.
 */
export interface PgQueryable {
  query(config: { text: string; values?: unknown[]; query_timeout?: number }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

interface CommonOptions {
  /** `name` or `schema.name`. Default `switchyard_idempotency`. */
  table?: string;
  /** Create the table (IF NOT EXISTS) before the first statement. Default false: run the migration instead. */
  createTable?: boolean;
  /**
   * Longest wait for one statement (sent as pg's query_timeout); past it the call throws and the
   * runner retries the message later (fail closed). With `connectionString` also the connect
   * timeout of the store's own pool. Default 5000.
   */
  commandTimeoutMs?: number;
}

export type PostgresIdempotencyStoreOptions = CommonOptions &
  (
    | {
        /** A pg Pool you own: the store never ends it. Give it a connectionTimeoutMillis and an 'error' listener. */
        pool: PgQueryable;
        connectionString?: never;
      }
    | {
        /** `postgres://user:password@host:5432/db`: the store makes (and on close ends) its own pool. */
        connectionString: string;
        pool?: never;
        /** Most connections the store's own pool opens. Default 10. */
        poolSize?: number;
        /** Idle-connection errors of the store's own pool. Default: silent. Never contains credentials. */
        logger?: Logger;
      }
  );

export interface PostgresIdempotencyStore extends IdempotencyStore {
  extend(key: string, token: string, options: { leaseMs: number }): Promise<boolean>;
  /**
   * Write the done mark with the caller's transaction client, before its COMMIT, so the handler's
   * effect and the mark commit (or roll back) together. Throws ClaimLostError (code
   * ERR_IDEMPOTENCY_CLAIM_LOST) when `token` no longer owns the claim: roll back then. The
   * runner's own complete afterwards sees the same token's done mark and returns true.
   */
  completeIn(client: PgQueryable, key: string, token: string, options: { ttlMs: number; result?: string }): Promise<void>;
  /** Delete expired claims and done marks in batches; returns how many rows went. Schedule it (see README). */
  purgeExpired(options?: { batchSize?: number }): Promise<number>;
  /** The table, as configured. */
  readonly table: string;
  /** End the store's own pool (connectionString mode); a pool you passed in is left open. */
  close(): Promise<void>;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

type Row = { state: string; result: string | null };

/**
 * An idempotency store on PostgreSQL, shared by every instance of a service: one row per key,
 * claimed with INSERT ... ON CONFLICT (which takes over a lapsed lease in the same statement).
 */
export function postgresIdempotencyStore(options: PostgresIdempotencyStoreOptions): PostgresIdempotencyStore {
  const { table, commandTimeoutMs } = checkOptions(options);
  const connectionString = options.connectionString;
  const ownPool = connectionString === undefined ? undefined : createPool(connectionString, options.poolSize, commandTimeoutMs, options.logger ?? silentLogger);
  const pool: PgQueryable = ownPool ?? (options.pool as PgQueryable);
  const sql = queries(table);
  let tableReady: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  /** Create the table once per store (when asked and missing); a failure is retried by the next call. */
  function ensureTable(): Promise<void> {
    if (options.createTable !== true) return Promise.resolve();
    tableReady ??= (async () => {
      const { rows } = await pool.query({ text: sql.tableExists, query_timeout: commandTimeoutMs });
      if ((rows[0] as { ready: boolean } | undefined)?.ready === true) return;
      await pool.query({ text: sql.ensureTable(idempotencyTableSql(table.name)), query_timeout: commandTimeoutMs });
    })().catch((err: unknown) => {
      tableReady = undefined;
      throw err;
    });
    return tableReady;
  }

  async function run(operation: string, key: string, text: string, values: unknown[], on: PgQueryable = pool) {
    try {
      await ensureTable();
      return await on.query({ text, values, query_timeout: commandTimeoutMs });
    } catch (err) {
      throw storeError(operation, key, err, table.name, connectionString);
    }
  }

  /** A row as the claim statement reports it: 'taken' is ours, 'claimed' someone else's. */
  function answer(row: Row | undefined, token: string): ClaimResult | undefined {
    if (row === undefined) return undefined;
    if (row.state === 'taken') return { status: 'claimed', token };
    if (row.state === 'claimed') return { status: 'busy' };
    return row.result === null ? { status: 'done' } : { status: 'done', result: Buffer.from(row.result, 'base64').toString('utf8') };
  }

  const completeValues = (key: string, token: string, ttlMs: number, result: string | undefined) => [key, token, ttlMs, result === undefined ? null : Buffer.from(result, 'utf8')];

  return {
    table: table.name,
    async claim(key, { leaseMs }) {
      const token = randomUUID();
      const claimed = answer((await run('claim', key, sql.claim, [key, token, leaseMs])).rows[0] as Row | undefined, token);
      if (claimed !== undefined) return claimed;
      // Nothing visible to the statement's snapshot: a racing transaction committed meanwhile. Look again.
      return answer((await run('claim', key, sql.peek, [key])).rows[0] as Row | undefined, token) ?? { status: 'busy' };
    },
    async complete(key, token, { ttlMs, result }) {
      return (await run('complete', key, sql.complete, completeValues(key, token, ttlMs, result))).rowCount === 1;
    },
    async completeIn(client, key, token, { ttlMs, result }) {
      const { rowCount } = await run('complete', key, sql.complete, completeValues(key, token, ttlMs, result), client);
      if (rowCount !== 1) throw new ClaimLostError(key);
    },
    async release(key, token) {
      return (await run('release', key, sql.release, [key, token])).rowCount === 1;
    },
    async extend(key, token, { leaseMs }) {
      return (await run('extend', key, sql.extend, [key, token, leaseMs])).rowCount === 1;
    },
    async purgeExpired({ batchSize = 1000 } = {}) {
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigurationError(`purgeExpired: batchSize must be a positive integer, got ${String(batchSize)}.`);
      let purged = 0;
      for (;;) {
        const { rowCount } = await run('purge', '(expired rows)', sql.purge, [batchSize]);
        purged += rowCount ?? 0;
        if ((rowCount ?? 0) < batchSize) return purged;
      }
    },
    close() {
      closed ??= ownPool?.end() ?? Promise.resolve();
      return closed;
    },
  };
}

function createPool(connectionString: string, poolSize: number | undefined, commandTimeoutMs: number, logger: Logger): pg.Pool & PgQueryable {
  const pool = new pg.Pool({ connectionString, max: poolSize ?? 10, connectionTimeoutMillis: commandTimeoutMs });
  // An idle connection that breaks (server restart, network) is dropped from the pool; without a listener it would crash the process.
  pool.on('error', (err) => logger.warn('PostgreSQL idempotency store: an idle connection failed; the pool opens a new one', { error: scrub(err, connectionString) }));
  return pool;
}

function checkOptions(options: PostgresIdempotencyStoreOptions) {
  const given = options as { pool?: unknown; connectionString?: unknown; poolSize?: unknown };
  if ((given.pool === undefined) === (given.connectionString === undefined)) {
    throw new ConfigurationError('postgresIdempotencyStore needs exactly one of `pool` (a pg Pool) or `connectionString` (postgres://user:password@host:5432/db).');
  }
  if (given.pool !== undefined && typeof (given.pool as { query?: unknown }).query !== 'function') {
    throw new ConfigurationError('postgresIdempotencyStore: `pool` must be a pg Pool (new pg.Pool({ ... })).');
  }
  if (given.connectionString !== undefined && (typeof given.connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(given.connectionString))) {
    throw new ConfigurationError('postgresIdempotencyStore: `connectionString` must start with postgres:// or postgresql://.');
  }
  if (given.poolSize !== undefined && (!Number.isInteger(given.poolSize) || (given.poolSize as number) < 1)) {
    throw new ConfigurationError(`postgresIdempotencyStore: \`poolSize\` must be a positive integer, got ${String(given.poolSize)}.`);
  }
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
    throw new ConfigurationError(`postgresIdempotencyStore: \`commandTimeoutMs\` must be a positive integer (milliseconds), got ${String(commandTimeoutMs)}.`);
  }
  return { table: tableName(options.table), commandTimeoutMs };
}
