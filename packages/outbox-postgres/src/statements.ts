/**
 * Every SQL statement the outbox runs, per table. Each is one statement, so each is its own
 * short transaction: nothing holds row locks while a publish waits for the broker.
 */
import type { BodyKind } from './body.js';
import type { TableNames } from './schema.js';

/** A row as the relay works on it. `seq` is the table's bigint id (text: it may exceed 2^53). */
export interface ClaimedRow {
  readonly seq: string;
  readonly message_id: string;
  readonly topic: string;
  readonly key: string | null;
  readonly body: Buffer;
  readonly body_kind: BodyKind;
  readonly content_type: string | null;
  readonly headers: Record<string, string>;
  readonly correlation_id: string | null;
  readonly causation_id: string | null;
  /** Delay still to go (deliver_at minus now), or null without delayMs. */
  readonly delay_ms: number | null;
  readonly trace_context: Record<string, string> | null;
  readonly attempts: number;
}

export function statements(t: TableNames) {
  const T = t.sql;
  return {
    insert: `INSERT INTO ${T} (message_id, topic, key, body, body_kind, content_type, headers, correlation_id, causation_id, deliver_at, trace_context)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10::int IS NULL THEN NULL ELSE clock_timestamp() + $10::int * interval '1 millisecond' END, $11)`,

    /**
     * Claim up to $1 due rows in id order for relay $2 with a lease of $3 ms. A keyed row is taken
     * only if no earlier row of its key is still pending and either waiting for a retry or leased
     * to another relay: that is what keeps one key's rows in order and never two of them in
     * flight. A relay runs one batch at a time, so its own leases at claim time are left over
     * from a batch that failed part-way: it takes those rows back at once instead of waiting
     * out its own lease. SKIP LOCKED passes over rows another session is updating.
     */
    claim: `WITH picked AS (
        SELECT o.id FROM ${T} o
        WHERE o.status = 'pending'
          AND o.available_at <= now()
          AND (o.claimed_until IS NULL OR o.claimed_until < now() OR o.claimed_by = $2)
          AND (o.key IS NULL OR NOT EXISTS (
            SELECT 1 FROM ${T} p
            WHERE p.status = 'pending' AND p.key = o.key AND p.id < o.id
              AND (p.available_at > now() OR (p.claimed_until >= now() AND p.claimed_by <> $2))))
        ORDER BY o.id
        LIMIT $1
        FOR UPDATE SKIP LOCKED)
      UPDATE ${T} r SET claimed_by = $2, claimed_until = now() + $3::int * interval '1 millisecond'
      FROM picked WHERE r.id = picked.id
      RETURNING r.id::text AS seq, r.message_id, r.topic, r.key, r.body, r.body_kind, r.content_type, r.headers, r.correlation_id, r.causation_id,
        CASE WHEN r.deliver_at IS NULL THEN NULL
             ELSE GREATEST(0, CEIL(EXTRACT(EPOCH FROM (r.deliver_at - clock_timestamp())) * 1000))::int END AS delay_ms,
        r.trace_context, r.attempts`,

    /** Keep this relay's claims alive while a long batch runs. */
    renewLease: `UPDATE ${T} SET claimed_until = now() + $2::int * interval '1 millisecond'
      WHERE claimed_by = $1 AND status = 'pending' AND claimed_until IS NOT NULL`,

    /** Published: whoever holds the claim now, the message went out. */
    markSent: `UPDATE ${T} SET status = 'sent', sent_at = now(), claimed_by = NULL, claimed_until = NULL, last_error = NULL
      WHERE id = ANY($1::bigint[]) AND status = 'pending'`,

    /** A failure counted against the row: retry after $4 ms, or park when $3 says so. */
    fail: `UPDATE ${T} SET attempts = attempts + 1, last_error = $2,
        status = CASE WHEN $3::boolean THEN 'parked' ELSE 'pending' END,
        parked_at = CASE WHEN $3::boolean THEN now() ELSE NULL END,
        available_at = CASE WHEN $3::boolean THEN available_at ELSE now() + $4::int * interval '1 millisecond' END,
        claimed_by = NULL, claimed_until = NULL
      WHERE id = $1::bigint AND status = 'pending'`,

    /** Not published and not the row's fault (broker outage, relay stopping): free it, keep its attempts. */
    release: `UPDATE ${T} SET claimed_by = NULL, claimed_until = NULL, last_error = COALESCE($3, last_error)
      WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND status = 'pending'`,

    snapshot: `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
        count(*) FILTER (WHERE status = 'parked')::int AS parked,
        COALESCE(EXTRACT(EPOCH FROM (now() - min(created_at) FILTER (WHERE status = 'pending'))) * 1000, 0)::float8 AS oldest_ms
      FROM ${T} WHERE status IN ('pending', 'parked')`,

    /** Deleted in chunks so a large purge never holds many row locks at once. */
    purgeSent: `DELETE FROM ${T} WHERE id IN (
        SELECT id FROM ${T} WHERE status = 'sent' AND sent_at < now() - $1::bigint * interval '1 millisecond' ORDER BY id LIMIT $2)`,

    requeueAll: `UPDATE ${T} SET status = 'pending', attempts = 0, available_at = now(), parked_at = NULL, claimed_by = NULL, claimed_until = NULL
      WHERE status = 'parked'`,
    requeueIds: `UPDATE ${T} SET status = 'pending', attempts = 0, available_at = now(), parked_at = NULL, claimed_by = NULL, claimed_until = NULL
      WHERE status = 'parked' AND message_id = ANY($1::text[])`,

    parked: `SELECT message_id, topic, key, attempts, last_error, created_at, parked_at FROM ${T} WHERE status = 'parked' ORDER BY id LIMIT $1`,

    notify: 'SELECT pg_notify($1, $2)',
    tryLock: 'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
    unlock: 'SELECT pg_advisory_unlock(hashtextextended($1, 0))',
  };
}

export type Statements = ReturnType<typeof statements>;

/** The advisory lock the relay leader holds: one per table, in PostgreSQL's single-bigint key space. */
export function leaderLockName(t: TableNames): string {
  return `switchyard-outbox-relay:${t.name}`;
}
