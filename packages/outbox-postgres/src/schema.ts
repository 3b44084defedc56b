/**
 * The outbox table: its name rules, its DDL (shipped as a string and as migrations/), and
 * creating it on demand.
 */
import { ConfigurationError } from '@switchyard/core';
import type { Pool } from 'pg';

export const DEFAULT_TABLE = 'switchyard_outbox';

/**
 * `name` or `schema.name`, lower case, so the name needs no quoting surprises; at most 63 bytes in
 * all because the table name is also the LISTEN/NOTIFY channel, and PostgreSQL identifiers
 * (channels included) stop at 63 bytes. 40 per part leaves room for the index suffixes.
 */
const TABLE_NAME = /^(?:[a-z_][a-z0-9_]{0,39}\.)?[a-z_][a-z0-9_]{0,39}$/;

/** A validated table name and the identifiers derived from it. */
export interface TableNames {
  /** As given: `switchyard_outbox` or `app.outbox`. Also the NOTIFY channel. */
  readonly name: string;
  /** Quoted for SQL: `"app"."outbox"`. */
  readonly sql: string;
  /** Quoted schema prefix (`"app".`) or empty, for the trigger function. */
  readonly schemaPrefix: string;
  /** The unqualified part, base of index and trigger names. */
  readonly base: string;
  readonly channel: string;
}

export function tableNames(table: string = DEFAULT_TABLE): TableNames {
  if (typeof table !== 'string' || !TABLE_NAME.test(table) || Buffer.byteLength(table) > 63) {
    throw new ConfigurationError(
      `Invalid outbox table name ${JSON.stringify(table)}: use "name" or "schema.name" in lower-case letters, digits and "_" ` +
        `(each part 1-40 characters starting with a letter or "_", 63 in all), e.g. "switchyard_outbox" or "app.outbox".`,
    );
  }
  const parts = table.split('.');
  const base = parts[parts.length - 1]!;
  const schemaPrefix = parts.length === 2 ? `"${parts[0]}".` : '';
  return { name: table, sql: `${schemaPrefix}"${base}"`, schemaPrefix, base, channel: table };
}

/**
 * DDL for one outbox table. Idempotent (IF NOT EXISTS / OR REPLACE), so it can run on every start.
 * Needs PostgreSQL 14 or later (CREATE OR REPLACE TRIGGER).
 */
export function outboxSchemaSql(table: string = DEFAULT_TABLE): string {
  const t = tableNames(table);
  const fn = `${t.schemaPrefix}"${t.base}_notify"`;
  const channel = t.channel.replace(/'/g, "''");
  return `-- Switchyard transactional outbox: one row per message, written in the application's transaction.
CREATE TABLE IF NOT EXISTS ${t.sql} (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order: rows of one key are published in id order
  message_id     text        NOT NULL,                 -- the CloudEvents id (ce-id) the message is published with
  topic          text        NOT NULL,
  key            text,                                 -- ordering/partition key; NULL = no ordering
  body           bytea       NOT NULL,                 -- the body bytes as bus.publish would encode them
  body_kind      text        NOT NULL CHECK (body_kind IN ('json', 'text', 'bytes')),
  content_type   text,                                 -- the publish option contentType, when given
  headers        jsonb       NOT NULL DEFAULT '{}',    -- user headers (string values)
  correlation_id text,
  causation_id   text,
  deliver_at     timestamptz,                          -- delayMs: deliver no earlier than this
  trace_context  jsonb,                                -- traceparent/tracestate of the writer's span
  status         text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'parked')),
  attempts       integer     NOT NULL DEFAULT 0,       -- failed publishes counted against the row
  available_at   timestamptz NOT NULL DEFAULT now(),   -- not before (retry backoff)
  claimed_by     text,                                 -- relay working on the row ...
  claimed_until  timestamptz,                          -- ... until its lease ends
  last_error     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  sent_at        timestamptz,
  parked_at      timestamptz
);
CREATE INDEX IF NOT EXISTS "${t.base}_pending_idx" ON ${t.sql} (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS "${t.base}_pending_key_idx" ON ${t.sql} (key, id) WHERE status = 'pending' AND key IS NOT NULL;
CREATE INDEX IF NOT EXISTS "${t.base}_sent_idx" ON ${t.sql} (sent_at) WHERE status = 'sent';
CREATE INDEX IF NOT EXISTS "${t.base}_parked_idx" ON ${t.sql} (id) WHERE status = 'parked';
CREATE INDEX IF NOT EXISTS "${t.base}_message_id_idx" ON ${t.sql} (message_id);
-- Wake-up hint for relays: one NOTIFY per inserting statement, delivered at commit (never on rollback).
CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${channel}', 'insert');
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER "${t.base}_notify" AFTER INSERT ON ${t.sql} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}();
`;
}

/** The DDL for the default table `switchyard_outbox`; the same text as migrations/001_switchyard_outbox.sql. */
export const OUTBOX_SCHEMA_SQL: string = outboxSchemaSql();

/**
 * Create the table if it is missing. Concurrent starts take turns on an advisory lock: CREATE ...
 * IF NOT EXISTS alone can still fail when two sessions race on the catalog.
 */
export async function ensureTable(pool: Pool, t: TableNames): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`switchyard-outbox-ddl:${t.name}`]);
    await client.query(outboxSchemaSql(t.name));
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Fail fast when the table is missing and createTable is off. */
export async function assertTableExists(pool: Pool, t: TableNames): Promise<void> {
  const { rows } = await pool.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [t.sql]);
  if (!rows[0]?.exists) {
    throw new ConfigurationError(
      `The outbox table ${t.name} does not exist. Run the migration (migrations/001_switchyard_outbox.sql, or outboxSchemaSql('${t.name}')) or pass createTable: true.`,
    );
  }
}
