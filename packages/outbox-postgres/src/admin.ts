/** Table-wide operations: the lag snapshot, retention, parked rows and re-queueing them. */
import type { Pool } from 'pg';
import type { Statements } from './statements.js';
import type { TableSnapshot } from './telemetry.js';
import type { ParkedRow } from './types.js';

const PURGE_CHUNK = 10_000;

export async function snapshot(pool: Pool, sql: Statements): Promise<TableSnapshot> {
  const { rows } = await pool.query<{ pending: number; parked: number; oldest_ms: number }>(sql.snapshot);
  const row = rows[0];
  return { pending: row?.pending ?? 0, parked: row?.parked ?? 0, oldestPendingAgeMs: Math.max(0, Math.round(row?.oldest_ms ?? 0)) };
}

/** Delete sent rows older than olderThanMs, a chunk at a time; returns how many. */
export async function purgeSent(pool: Pool, sql: Statements, olderThanMs: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await pool.query(sql.purgeSent, [olderThanMs, PURGE_CHUNK]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < PURGE_CHUNK) return total;
  }
}

export async function listParked(pool: Pool, sql: Statements, limit: number): Promise<ParkedRow[]> {
  const { rows } = await pool.query<{
    message_id: string;
    topic: string;
    key: string | null;
    attempts: number;
    last_error: string | null;
    created_at: Date;
    parked_at: Date;
  }>(sql.parked, [limit]);
  return rows.map((r) => ({
    id: r.message_id,
    topic: r.topic,
    key: r.key ?? undefined,
    attempts: r.attempts,
    error: r.last_error ?? '',
    createdAt: r.created_at,
    parkedAt: r.parked_at,
  }));
}

/** Parked rows back to pending with attempts reset, and a wake-up for the relay. */
export async function requeue(pool: Pool, sql: Statements, channel: string, ids: readonly string[] | undefined): Promise<number> {
  const { rowCount } = ids === undefined ? await pool.query(sql.requeueAll) : await pool.query(sql.requeueIds, [ids]);
  if ((rowCount ?? 0) > 0) await pool.query(sql.notify, [channel, 'requeue']);
  return rowCount ?? 0;
}
