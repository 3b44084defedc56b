import type { Contract, EmptyContract, Health, Logger, PublishOptions, PublishResult } from '@switchyard/core';
import type { Pool } from 'pg';

/**
 * Anything with pg's `query(text, values)`: the client you ran BEGIN on (a pg PoolClient or
 * Client). outbox.publish writes through it, so the row commits or rolls back with your data.
 */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

export interface OutboxOptions<C extends Contract = EmptyContract> {
  /** Your pg Pool. The outbox never ends it. Give this or connectionString. */
  pool?: Pool;
  /** postgres://user:password@host:port/db — the outbox creates a pool and ends it on close(). */
  connectionString?: string;
  /** Table name, `name` or `schema.name`. Default `switchyard_outbox`. */
  table?: string;
  /** Create the table, indexes and NOTIFY trigger if missing. Default false: the table must exist (run the migration). */
  createTable?: boolean;
  /** Validate bodies against this contract in outbox.publish, as bus.publish would; also types publish(). */
  contract?: C;
  /** Default: warnings and errors to stderr. */
  logger?: Logger;
}

/** What the relay needs of a bus: a Switchyard `Bus` fits. */
export interface RelayBus {
  publish(topic: string, body: unknown, options?: PublishOptions): Promise<PublishResult>;
  health(): Promise<Health>;
}

export interface RelayRetryOptions {
  /** Delay before the first retry of a failed row. Default 1000 ms. */
  initialDelayMs?: number;
  /** Cap on the delay. Default 60000 ms. */
  maxDelayMs?: number;
  /** Growth per failure. Default 2. */
  factor?: number;
}

export interface RelayOptions {
  /** Rows claimed per batch. Default 100. */
  batchSize?: number;
  /** Poll for rows this often when no NOTIFY arrives (the guarantee; NOTIFY is only a hint). Default 1000 ms. */
  pollIntervalMs?: number;
  /** Failed publishes counted against a row before it is parked. Default 10. */
  maxAttempts?: number;
  /** Backoff between a row's failed publishes (exponential with jitter). */
  retry?: RelayRetryOptions;
  /** Keys (and unkeyed rows) published in parallel; one row of a key at a time. Default 16. */
  concurrency?: number;
  /**
   * How long a claimed row is reserved for this relay; renewed while its batch runs. After a
   * crash another relay publishes the row once the lease ends. Default 30000 ms.
   */
  leaseMs?: number;
  /** Delete sent rows older than this (the leader purges once a minute, or as often as this if shorter, at least 1 s apart), or false to keep them. Default 24 h. */
  retainSentMs?: number | false;
  /** Default: the outbox's logger. */
  logger?: Logger;
}

export interface RelayStats {
  /** `<host>/<pid>/<random>`: what this relay writes into claimed_by. */
  readonly relayId: string;
  /** Whether this relay holds the table's advisory lock and publishes; others stand by. */
  readonly leader: boolean;
  /** Rows this relay published and marked sent. */
  readonly published: number;
  /** Failed publishes counted against a row. */
  readonly failures: number;
  /** Failed publishes not counted because the broker was unreachable (bus.health() not ok). */
  readonly outageFailures: number;
  /** Rows this relay parked. */
  readonly parked: number;
  /** From the table now: rows waiting to be published (including ones waiting for a retry). */
  readonly pendingRows: number;
  /** From the table now: parked rows. */
  readonly parkedRows: number;
  /** Age of the oldest pending row in ms, or 0 when none waits. The lag metric reports the same. */
  readonly oldestPendingAgeMs: number;
}

/** A parked row, as `outbox.parked()` lists it. */
export interface ParkedRow {
  /** The message id (CloudEvents id). */
  readonly id: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly attempts: number;
  readonly error: string;
  readonly createdAt: Date;
  readonly parkedAt: Date;
}

/** What the relay reports as it goes (relay.events). */
export interface RelayEventMap {
  /** A row was published and confirmed (marked sent with its batch). */
  published: [{ id: string; topic: string; key: string | undefined }];
  /** A publish failed; the row is retried (`retryInMs`) unless it was parked. `counted` is false during a broker outage. */
  failed: [{ id: string; topic: string; error: string; attempts: number; counted: boolean; retryInMs: number | undefined }];
  /** A row was parked: status 'parked', error in last_error; outbox.requeue() sends it again. */
  parked: [{ id: string; topic: string; error: string; attempts: number }];
  /** The leader deleted sent rows older than retainSentMs. */
  purged: [{ deleted: number }];
  /** This relay became the leader (true) or stopped being it (false). */
  leader: [boolean];
}
