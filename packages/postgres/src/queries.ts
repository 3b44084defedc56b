/**
 * Every statement the store runs, for one table. Leases and TTLs are checked against
 * clock_timestamp() (the server's clock now), not now() (the start of the caller's transaction),
 * so a long transaction calling completeIn cannot act on a lease that has lapsed meanwhile.
 */
import type { TableName } from './table.js';

const expiresIn = (param: string) => `clock_timestamp() + ${param}::double precision * interval '1 millisecond'`;

export interface Queries {
  readonly claim: string;
  readonly peek: string;
  readonly complete: string;
  readonly release: string;
  readonly extend: string;
  readonly purge: string;
  readonly tableExists: string;
  readonly ensureTable: (ddl: string) => string;
}

export function queries(t: TableName): Queries {
  const live = 'expires_at > clock_timestamp()';
  return {
    // $1 key, $2 token, $3 leaseMs. Inserts a free key or takes over a lapsed row in one atomic
    // statement (the row lock serializes racing claimants): state 'taken'. Otherwise reports the
    // live row: 'claimed' (someone else's, so busy) or 'done' with its result in base64.
    claim: `WITH taken AS (
  INSERT INTO ${t.sql} AS cur (key, state, token, result, expires_at)
  VALUES ($1, 'claimed', $2, NULL, ${expiresIn('$3')})
  ON CONFLICT (key) DO UPDATE
    SET state = 'claimed', token = excluded.token, result = NULL, expires_at = excluded.expires_at
    WHERE cur.expires_at <= clock_timestamp()
  RETURNING cur.token
)
SELECT 'taken' AS state, NULL::text AS result FROM taken
UNION ALL
SELECT state, encode(result, 'base64') FROM ${t.sql} WHERE key = $1 AND ${live} AND NOT EXISTS (SELECT 1 FROM taken)`,
    // $1 key. A fresh snapshot, for when claim lost a race with a transaction that committed after it began.
    peek: `SELECT state, encode(result, 'base64') AS result FROM ${t.sql} WHERE key = $1 AND ${live}`,
    // $1 key, $2 token, $3 ttlMs, $4 result (bytea or NULL). A live claim becomes a done mark; a
    // repeat by the owner of the done mark changes nothing but a missing result.
    complete: `UPDATE ${t.sql} SET
  state = 'done',
  result = CASE WHEN state = 'claimed' THEN $4::bytea ELSE COALESCE(result, $4::bytea) END,
  expires_at = CASE WHEN state = 'claimed' THEN ${expiresIn('$3')} ELSE expires_at END
WHERE key = $1 AND token = $2 AND ${live}`,
    // $1 key, $2 token. Compare-and-delete: only the live claim's owner frees the key.
    release: `DELETE FROM ${t.sql} WHERE key = $1 AND token = $2 AND state = 'claimed' AND ${live}`,
    // $1 key, $2 token, $3 leaseMs.
    extend: `UPDATE ${t.sql} SET expires_at = ${expiresIn('$3')} WHERE key = $1 AND token = $2 AND state = 'claimed' AND ${live}`,
    // $1 batch size. Skips rows an open transaction holds (e.g. a completeIn not yet committed).
    purge: `DELETE FROM ${t.sql} WHERE key IN (
  SELECT key FROM ${t.sql} WHERE expires_at <= clock_timestamp() LIMIT $1 FOR UPDATE SKIP LOCKED
) AND expires_at <= clock_timestamp()`,
    // Checked before any DDL: even CREATE INDEX IF NOT EXISTS takes a share lock on the table,
    // which would wait for (and hold up) every open transaction writing to it.
    tableExists: `SELECT to_regclass(${literal(t.sql)}) IS NOT NULL AND to_regclass(${literal(t.indexSql)}) IS NOT NULL AS ready`,
    // One simple-protocol query runs as one transaction: the advisory lock makes concurrent
    // creators (many instances starting at once) wait instead of racing on the catalog.
    ensureTable: (ddl: string) => `SELECT pg_advisory_xact_lock(hashtext('switchyard:create:' || ${literal(t.name)}));\n${ddl}`,
  };
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
