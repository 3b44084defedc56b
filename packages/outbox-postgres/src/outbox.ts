/**
 * The outbox: write a message into the caller's transaction (publish), and relays that send what
 * was committed (startRelay). Admin calls: parked(), requeue(), purgeSent().
 */
import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import {
  ConfigurationError,
  ConnectionError,
  consoleLogger,
  ValidationError,
  type Contract,
  type EmptyContract,
  type Logger,
  type PublishBody,
  type PublishOptions,
  type PublishResult,
} from '@switchyard/core';
import { checkPublish, errorMessage, redactUrl, scrubSecrets, urlSecrets } from '@switchyard/core/spi';
import pg from 'pg';
import { listParked, purgeSent, requeue } from './admin.js';
import { storeBody } from './body.js';
import { Relay } from './relay.js';
import { resolveRelayOptions } from './relay-options.js';
import { assertTableExists, ensureTable, tableNames, type TableNames } from './schema.js';
import { statements, type Statements } from './statements.js';
import type { OutboxOptions, ParkedRow, RelayBus, RelayOptions, SqlClient } from './types.js';

const OUTBOX_OPTIONS = ['pool', 'connectionString', 'table', 'createTable', 'contract', 'logger'] as const;

export class Outbox<C extends Contract = EmptyContract> {
  private readonly relays = new Set<Relay>();
  private closed = false;

  /** Use createOutbox(). */
  constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool: boolean,
    private readonly table: TableNames,
    private readonly sql: Statements,
    private readonly contract: C | undefined,
    private readonly logger: Logger,
  ) {}

  /** The table this outbox writes, as given (`switchyard_outbox`, `app.outbox`). */
  get tableName(): string {
    return this.table.name;
  }

  /**
   * Write a message into the transaction open on `client` (the one you ran BEGIN on): it is sent
   * if and only if that transaction commits. Checked like bus.publish before anything is
   * written; the message id (the CloudEvents id consumers see) is fixed now and returned.
   */
  async publish<K extends string>(client: SqlClient, topic: K, body: PublishBody<C, K>, options: PublishOptions = {}): Promise<PublishResult> {
    if (typeof client !== 'object' || client === null || typeof client.query !== 'function') {
      throw new ValidationError(
        'outbox.publish needs the pg client your transaction runs on as its first argument: const client = await pool.connect(); await client.query("BEGIN"); ...',
      );
    }
    // bus.publish's own checks, so a message the relay could never publish fails here, in the caller's transaction.
    checkPublish(topic, body, options, this.contract, 'outbox.publish');
    // The outbox table has no columns for these yet: refuse rather than relay the message without them.
    const unstored = (['subject', 'dataschema', 'extensions'] as const).filter((name) => options[name] !== undefined);
    if (unstored.length > 0) {
      throw new ValidationError(`outbox.publish does not store the CloudEvents option(s) ${unstored.join(', ')} yet; publish such messages with bus.publish. Nothing was written.`);
    }
    const stored = storeBody(body, options.contentType);
    const id = options.id ?? randomUUID();
    await client.query(this.sql.insert, [
      id,
      topic,
      options.key ?? null,
      stored.bytes,
      stored.kind,
      options.contentType ?? null,
      JSON.stringify(options.headers ?? {}),
      options.correlationId ?? null,
      options.causationId ?? null,
      options.delayMs === undefined || options.delayMs === 0 ? null : options.delayMs,
      traceContext(),
    ]);
    return { id };
  }

  /** Start a relay that publishes this table's rows through `bus`. Run one per instance: one leads, the others stand by. */
  startRelay(bus: RelayBus, options: RelayOptions = {}): Relay {
    if (this.closed) throw new ConfigurationError('This outbox is closed; create a new one with createOutbox() to start a relay.');
    if (typeof bus !== 'object' || bus === null || typeof bus.publish !== 'function' || typeof bus.health !== 'function') {
      throw new ValidationError('startRelay needs a bus (from createBus) as its first argument.');
    }
    // The relay keeps one connection for its session and writes through the pool: one connection is not enough.
    const max = this.pool.options.max ?? 10;
    if (max < 2) throw new ConfigurationError(`startRelay needs a pool of at least 2 connections (one stays with the relay's session); this pool has max ${max}.`);
    const relay = new Relay({ pool: this.pool, table: this.table, sql: this.sql, bus }, resolveRelayOptions(options, this.logger));
    this.relays.add(relay);
    return relay;
  }

  /** Parked rows, oldest first. */
  async parked(options: { limit?: number } = {}): Promise<ParkedRow[]> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new ValidationError(`parked limit must be an integer from 1 to 100000; got ${String(limit)}.`);
    return listParked(this.pool, this.sql, limit);
  }

  /**
   * Send parked rows again (attempts reset). `ids` are message ids; without them every parked row.
   * A re-queued row is published after rows of its key that were sent while it was parked.
   */
  async requeue(options: { ids?: readonly string[] } = {}): Promise<number> {
    if (options.ids !== undefined && (!Array.isArray(options.ids) || options.ids.some((id) => typeof id !== 'string'))) {
      throw new ValidationError('requeue ids must be an array of message ids (strings).');
    }
    return requeue(this.pool, this.sql, this.table.channel, options.ids);
  }

  /** Delete sent rows older than olderThanMs (relays also do this on their own; see retainSentMs). Returns how many. */
  async purgeSent(options: { olderThanMs: number }): Promise<number> {
    const olderThanMs = options?.olderThanMs;
    if (!Number.isInteger(olderThanMs) || olderThanMs < 0) throw new ValidationError(`purgeSent olderThanMs must be a non-negative integer; got ${String(olderThanMs)}.`);
    return purgeSent(this.pool, this.sql, olderThanMs);
  }

  /** Stop every relay started from this outbox, then end the pool if the outbox created it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.relays].map((r) => r.stop()));
    if (this.ownsPool) await this.pool.end();
  }
}

/** Connect (or take your pool), check or create the table, and return the outbox. */
export async function createOutbox<const C extends Contract = EmptyContract>(options: OutboxOptions<C>): Promise<Outbox<C>> {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('createOutbox needs options: { pool } or { connectionString }.');
  const unknown = Object.keys(options).filter((k) => !(OUTBOX_OPTIONS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new ConfigurationError(`Unknown createOutbox option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}. Allowed: ${OUTBOX_OPTIONS.join(', ')}.`);
  if ((options.pool === undefined) === (options.connectionString === undefined)) {
    throw new ConfigurationError('createOutbox needs exactly one of pool (your pg.Pool) or connectionString (postgres://user:password@host:5432/db).');
  }
  const table = tableNames(options.table);
  const logger = options.logger ?? consoleLogger;
  const ownsPool = options.pool === undefined;
  const pool = options.pool ?? ownPool(options.connectionString!, logger);
  try {
    if (options.createTable === true) await ensureTable(pool, table);
    else await assertTableExists(pool, table);
  } catch (err) {
    if (ownsPool) await pool.end().catch(() => undefined);
    if (err instanceof ConfigurationError) throw err;
    const where = options.connectionString === undefined ? 'PostgreSQL' : redactUrl(options.connectionString);
    // pg's messages name users and hosts, not passwords; this makes sure of it for our own connection string.
    const detail = scrubSecrets(errorMessage(err), urlSecrets(options.connectionString));
    throw new ConnectionError(`Cannot prepare the outbox table ${table.name} on ${where}: ${detail}. Check that PostgreSQL is running and the role may create tables.`);
  }
  return new Outbox<C>(pool, ownsPool, table, statements(table), options.contract, logger);
}

function ownPool(connectionString: string, logger: Logger): pg.Pool {
  if (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(connectionString)) {
    throw new ConfigurationError(
      `connectionString must be a postgres:// URL; got ${typeof connectionString === 'string' ? `"${redactUrl(connectionString)}"` : typeof connectionString}.`,
    );
  }
  const pool = new pg.Pool({ connectionString });
  // An idle pooled connection that drops (server restart) emits 'error'; unhandled, it would kill the process.
  pool.on('error', (err) => logger.warn('Outbox pool: an idle PostgreSQL connection failed; it is replaced on next use', { error: errorMessage(err) }));
  return pool;
}

/** traceparent/tracestate of the caller's span, so the relay's publish continues its trace. */
function traceContext(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length === 0 ? null : JSON.stringify(carrier);
}
