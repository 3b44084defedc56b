import { ConfigurationError } from '@switchyard/core';

export const DEFAULT_TABLE = 'switchyard_idempotency';

/** A validated table name: `name` or `schema.name`, each part a plain lower-case identifier. */
export interface TableName {
  /** As given, e.g. `billing.switchyard_idempotency`. */
  readonly name: string;
  /** Quoted for SQL, e.g. `"billing"."switchyard_idempotency"`. */
  readonly sql: string;
  /** The bare table name (for naming its index). */
  readonly bare: string;
  /** Its expires_at index, quoted and in the table's schema. */
  readonly indexSql: string;
}

const PART = /^[a-z_][a-z0-9_]{0,62}$/;

export function tableName(name: string = DEFAULT_TABLE): TableName {
  const parts = typeof name === 'string' ? name.split('.') : [];
  if (parts.length < 1 || parts.length > 2 || !parts.every((p) => PART.test(p))) {
    throw new ConfigurationError(
      `postgresIdempotencyStore: \`table\` must be "name" or "schema.name" of lower-case letters, digits and underscores (at most 63 each), got ${JSON.stringify(name)}.`,
    );
  }
  const bare = parts[parts.length - 1]!;
  const index = `"${bare}_expires_at_idx"`;
  return { name, sql: parts.map((p) => `"${p}"`).join('.'), bare, indexSql: parts.length === 2 ? `"${parts[0]}".${index}` : index };
}

/**
 * The table's DDL. Idempotent (IF NOT EXISTS), so running it again is harmless. Why the columns:
 * `result` is bytea so any string round-trips (text cannot hold NUL); `token` is text, not uuid,
 * so a malformed token is simply not the owner instead of a cast error; the `expires_at` index
 * serves purgeExpired().
 */
export function idempotencyTableSql(table: string = DEFAULT_TABLE): string {
  const t = tableName(table);
  return `CREATE TABLE IF NOT EXISTS ${t.sql} (
  key        text        PRIMARY KEY,
  state      text        NOT NULL CHECK (state IN ('claimed', 'done')),
  token      text        NOT NULL,
  result     bytea,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ${t.indexSql.split('.').pop()} ON ${t.sql} (expires_at);
`;
}

/** The DDL for the default table, as shipped in migrations/001_switchyard_idempotency.sql. */
export const IDEMPOTENCY_TABLE_SQL = idempotencyTableSql();
