/**
 * The relay: publishes outbox rows through a bus and marks them sent.
 *
 * One relay per table publishes at a time (the leader: it holds a session-level advisory lock);
 * the others stand by and take over when the leader's session ends. A single publisher is what
 * makes per-key order hold without coordination: within a batch, rows of one key are published
 * one after the other, each only after the broker confirmed the previous one. Leases on claimed
 * rows cover the hand-over: a new leader never publishes a row (or a later row of its key) that
 * the previous leader may still be publishing, until that lease has run out.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Logger, PublishOptions } from '@switchyard/core';
import { backoffDelay, errorMessage } from '@switchyard/core/spi';
import type { Pool } from 'pg';
import { purgeSent, snapshot } from './admin.js';
import { loadBody } from './body.js';
import { classifyFailure, errorText, type FailureKind } from './failure.js';
import type { ResolvedRelayOptions } from './relay-options.js';
import type { TableNames } from './schema.js';
import { RelaySession } from './session.js';
import { leaderLockName, type ClaimedRow, type Statements } from './statements.js';
import { RelayTelemetry } from './telemetry.js';
import type { RelayBus, RelayEventMap, RelayStats } from './types.js';
import { Wakeup } from './wakeup.js';

/** The leader deletes sent rows past retention this often (more often only for retention under a minute). */
const PURGE_INTERVAL_MS = 60_000;
const MIN_PURGE_INTERVAL_MS = 1000;
/** Waits after PostgreSQL errors (reconnecting) and broker outages: from the poll interval up to this. */
const MAX_TROUBLE_WAIT_MS = 10_000;

type Outcome = 'sent' | 'retry' | 'parked' | 'outage';

export interface RelayDeps {
  readonly pool: Pool;
  readonly table: TableNames;
  readonly sql: Statements;
  readonly bus: RelayBus;
}

export class Relay {
  readonly relayId = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  /** published, failed, parked, leader: see RelayEventMap. A listener that throws is logged, never breaks the relay. */
  readonly events = new EventEmitter<RelayEventMap>();
  private readonly stopping = new AbortController();
  private readonly wakeup = new Wakeup();
  private readonly telemetry: RelayTelemetry;
  private readonly logger: Logger;
  private readonly loop: Promise<void>;
  private session: RelaySession | undefined;
  private leading = false;
  private inOutage = false;
  private lastPurgeAt = 0;
  private stopped: Promise<void> | undefined;
  private readonly counts = { published: 0, failures: 0, outageFailures: 0, parked: 0 };

  /** Use outbox.startRelay(). */
  constructor(
    private readonly deps: RelayDeps,
    private readonly options: ResolvedRelayOptions,
  ) {
    this.logger = options.logger;
    this.telemetry = new RelayTelemetry(deps.table.name, async () => (this.leading ? snapshot(deps.pool, deps.sql) : undefined));
    this.loop = this.run();
  }

  /** Whether this relay holds the leader lock and publishes. */
  get leader(): boolean {
    return this.leading;
  }

  /** Counters of this relay plus the table's pending/parked rows and lag, read now. */
  async stats(): Promise<RelayStats> {
    const table = await snapshot(this.deps.pool, this.deps.sql);
    return {
      relayId: this.relayId,
      leader: this.leading,
      ...this.counts,
      pendingRows: table.pending,
      parkedRows: table.parked,
      oldestPendingAgeMs: table.oldestPendingAgeMs,
    };
  }

  /**
   * Finish the batch in flight (publishes under way complete and are marked sent; rows of the
   * batch not started yet are released for the next leader), give up leadership, return.
   * The bus is yours: the relay never closes it.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping.abort();
      await this.loop;
      this.telemetry.close();
    })();
    return this.stopped;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let troubles = 0;
    let outages = 0;
    while (!signal.aborted) {
      try {
        if (!(await this.lead())) {
          await this.wakeup.wait(this.options.pollIntervalMs, signal);
          continue;
        }
        troubles = 0;
        const { claimed, outage } = await this.batch();
        if (outage) {
          outages += 1;
          await this.waitForBroker(this.troubleWait(outages));
          continue;
        }
        outages = 0;
        await this.purgeIfDue();
        // A full or partial batch may have left more due rows (a key's later rows): look again at once.
        if (claimed > 0) continue;
        await this.wakeup.wait(this.options.pollIntervalMs, signal);
      } catch (err) {
        troubles += 1;
        const waitMs = this.troubleWait(troubles);
        this.logger.error('Outbox relay: a PostgreSQL call failed; reconnecting', { table: this.deps.table.name, retryInMs: waitMs, error: errorMessage(err) });
        this.dropSession();
        await this.wakeup.wait(waitMs, signal, false);
      }
    }
    await this.resign();
  }

  /** Open the session if needed and try the leader lock (non-blocking). */
  private async lead(): Promise<boolean> {
    if (this.session !== undefined && !this.session.alive) this.dropSession();
    this.session ??= await RelaySession.open(
      this.deps.pool,
      this.deps.sql,
      this.deps.table.channel,
      leaderLockName(this.deps.table),
      () => this.wakeup.hint(),
      (err) => {
        this.logger.warn('Outbox relay: lost its PostgreSQL session (and with it the leader lock)', { table: this.deps.table.name, error: errorMessage(err) });
        this.dropSession();
        this.wakeup.hint();
      },
    );
    const leader = await this.session.tryLock();
    if (leader && !this.leading) {
      this.leading = true;
      this.logger.info('Outbox relay is now the leader for its table', { table: this.deps.table.name, relayId: this.relayId });
      this.emit('leader', true);
    }
    return leader;
  }

  /** Claim a batch, publish it key by key, mark what went out as sent. */
  private async batch(): Promise<{ claimed: number; outage: boolean }> {
    const session = this.session!;
    const { batchSize, leaseMs, concurrency } = this.options;
    const rows = await session.claim(batchSize, this.relayId, leaseMs);
    if (rows.length === 0) return { claimed: 0, outage: false };

    const renew = setInterval(
      () => {
        session.renewLease(this.relayId, leaseMs).catch((err: unknown) => this.logger.warn('Outbox relay: renewing leases failed', { error: errorMessage(err) }));
      },
      Math.floor(leaseMs / 3),
    );
    renew.unref();

    const sent: ClaimedRow[] = [];
    let outage = false;
    let dbError: unknown;
    const chain = async (rows: readonly ClaimedRow[]) => {
      for (let i = 0; i < rows.length; i++) {
        // Stopping, an outage or a lost session: leave what has not started to the next attempt.
        if (outage || this.stopping.signal.aborted || !session.leader) {
          await this.release(rows.slice(i));
          return;
        }
        const row = rows[i]!;
        const outcome = await this.publish(row);
        if (outcome === 'sent') {
          sent.push(row);
          continue;
        }
        if (outcome === 'outage') outage = true;
        // The key's next rows must wait for this one (retry) or were freed by parking it: release them.
        await this.release(rows.slice(i + 1));
        return;
      }
    };
    try {
      await runLimited(chains(rows), concurrency, async (c) => {
        try {
          await chain(c);
        } catch (err) {
          dbError ??= err; // a failed UPDATE: other chains still finish; thrown below
        }
      });
    } finally {
      clearInterval(renew);
    }
    await this.markSent(sent);
    if (dbError !== undefined) throw dbError;
    if (!outage && this.inOutage) {
      this.inOutage = false;
      this.logger.info('Outbox relay: the broker is reachable again; rows flow', { table: this.deps.table.name });
    }
    return { claimed: rows.length, outage };
  }

  private async publish(row: ClaimedRow): Promise<Outcome> {
    let body: unknown;
    try {
      body = loadBody(row.body_kind, row.body);
    } catch (err) {
      return this.failed(row, err, 'permanent'); // bytes that don't parse as their kind never will
    }
    const options: PublishOptions = { id: row.message_id };
    if (row.key !== null) options.key = row.key;
    if (Object.keys(row.headers).length > 0) options.headers = row.headers;
    if (row.correlation_id !== null) options.correlationId = row.correlation_id;
    if (row.causation_id !== null) options.causationId = row.causation_id;
    if (row.content_type !== null) options.contentType = row.content_type;
    if (row.delay_ms !== null && row.delay_ms > 0) options.delayMs = row.delay_ms;
    try {
      // In the writer's trace: the publish span is a child of the span that wrote the row.
      const carrier = row.trace_context;
      const send = () => this.deps.bus.publish(row.topic, body, options);
      await (carrier === null ? send() : context.with(propagation.extract(ROOT_CONTEXT, carrier), send));
      return 'sent';
    } catch (err) {
      return this.failed(row, err, await classifyFailure(err, this.deps.bus));
    }
  }

  private async failed(row: ClaimedRow, err: unknown, kind: FailureKind): Promise<Outcome> {
    const error = errorText(err);
    const { sql, pool, table } = this.deps;
    this.telemetry.countFailure(row.topic, kind);
    if (kind === 'outage') {
      this.counts.outageFailures += 1;
      await pool.query(sql.release, [[row.seq], this.relayId, error]);
      if (!this.inOutage) {
        this.inOutage = true;
        this.logger.warn('Outbox relay: the broker is unreachable; rows wait (attempts are not counted)', { table: table.name, error });
      }
      this.emit('failed', { id: row.message_id, topic: row.topic, error, attempts: row.attempts, counted: false, retryInMs: undefined });
      return 'outage';
    }
    this.counts.failures += 1;
    const attempts = row.attempts + 1;
    const park = kind === 'permanent' || attempts >= this.options.maxAttempts;
    const retryInMs = park ? 0 : backoffDelay(this.options.retry, attempts + 1);
    await pool.query(sql.fail, [row.seq, error, park, retryInMs]);
    if (park) {
      this.counts.parked += 1;
      this.telemetry.countParked(row.topic);
      this.logger.error('Outbox row parked: fix the cause, then outbox.requeue() it', { table: table.name, id: row.message_id, topic: row.topic, attempts, error });
      this.emit('parked', { id: row.message_id, topic: row.topic, error, attempts });
      return 'parked';
    }
    this.logger.warn('Outbox row failed to publish; retrying', { table: table.name, id: row.message_id, topic: row.topic, attempts, retryInMs, error });
    this.emit('failed', { id: row.message_id, topic: row.topic, error, attempts, counted: true, retryInMs });
    return 'retry';
  }

  /** Rows of the batch that were not tried: free for the next claim, nothing recorded against them. */
  private async release(rows: readonly ClaimedRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.deps.pool.query(this.deps.sql.release, [rows.map((r) => r.seq), this.relayId, null]);
  }

  /**
   * If this fails the rows keep their (now unrenewed) leases and are published again once those
   * end: a duplicate, which consumers' idempotency absorbs; never a loss.
   */
  private async markSent(rows: readonly ClaimedRow[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.deps.pool.query(this.deps.sql.markSent, [rows.map((r) => r.seq)]);
    } catch (err) {
      this.logger.error('Outbox relay: marking published rows as sent failed; they will be published again after their lease', {
        table: this.deps.table.name,
        rows: rows.length,
        error: errorMessage(err),
      });
      throw err;
    }
    this.counts.published += rows.length;
    for (const row of rows) {
      this.telemetry.countPublished(row.topic);
      this.emit('published', { id: row.message_id, topic: row.topic, key: row.key ?? undefined });
    }
  }

  private async purgeIfDue(): Promise<void> {
    const { retainSentMs } = this.options;
    if (retainSentMs === false) return;
    const interval = Math.min(PURGE_INTERVAL_MS, Math.max(MIN_PURGE_INTERVAL_MS, retainSentMs));
    if (Date.now() - this.lastPurgeAt < interval) return;
    this.lastPurgeAt = Date.now();
    const deleted = await purgeSent(this.deps.pool, this.deps.sql, retainSentMs);
    if (deleted === 0) return;
    this.logger.debug('Outbox relay purged sent rows', { table: this.deps.table.name, deleted });
    this.emit('purged', { deleted });
  }

  /**
   * After an outage: back off, but resume as soon as the bus reports itself healthy again (its
   * reconnect), so rows flow right after the broker is back rather than at the end of a backoff.
   */
  private async waitForBroker(maxMs: number): Promise<void> {
    const signal = this.stopping.signal;
    const until = Date.now() + maxMs;
    const probeMs = Math.min(this.options.pollIntervalMs, 1000);
    while (!signal.aborted && Date.now() < until) {
      await this.wakeup.wait(Math.min(probeMs, until - Date.now()), signal, false);
      const health = await this.deps.bus.health().catch(() => undefined);
      if (health?.ok === true) return;
    }
  }

  private troubleWait(failures: number): number {
    const initialDelayMs = this.options.pollIntervalMs;
    return backoffDelay({ maxAttempts: Number.MAX_SAFE_INTEGER, initialDelayMs, maxDelayMs: Math.max(initialDelayMs, MAX_TROUBLE_WAIT_MS), factor: 2 }, failures + 1);
  }

  /** Graceful hand-over: unlock, close the session, and wake the standbys so one takes over now. */
  private async resign(): Promise<void> {
    const session = this.session;
    const wasLeader = this.leading;
    if (session?.leader) await session.unlock().catch(() => undefined);
    this.dropSession();
    if (wasLeader) await this.deps.pool.query(this.deps.sql.notify, [this.deps.table.channel, 'released']).catch(() => undefined);
  }

  private dropSession(): void {
    this.session?.destroy();
    this.session = undefined;
    if (this.leading) {
      this.leading = false;
      this.emit('leader', false);
    }
  }

  private emit<K extends keyof RelayEventMap>(event: K, ...args: RelayEventMap[K]): void {
    try {
      (this.events.emit as (event: K, ...args: RelayEventMap[K]) => boolean)(event, ...args);
    } catch (err) {
      this.logger.error(`Outbox relay: a "${event}" listener threw; ignored`, { error: errorMessage(err) });
    }
  }
}

/** Rows of one key in id order form one chain; every unkeyed row is a chain of its own. */
function chains(rows: readonly ClaimedRow[]): ClaimedRow[][] {
  const sorted = [...rows].sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
  const byKey = new Map<string, ClaimedRow[]>();
  const out: ClaimedRow[][] = [];
  for (const row of sorted) {
    if (row.key === null) {
      out.push([row]);
      continue;
    }
    let chain = byKey.get(row.key);
    if (chain === undefined) {
      chain = [];
      byKey.set(row.key, chain);
      out.push(chain);
    }
    chain.push(row);
  }
  return out;
}

/** Run fn over items with at most `limit` at once. fn must not throw. */
async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
