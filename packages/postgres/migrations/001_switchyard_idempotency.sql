-- @switchyard/postgres: the idempotency store's table, as IDEMPOTENCY_TABLE_SQL creates it.
-- Idempotent (IF NOT EXISTS). For another name or schema use idempotencyTableSql('schema.name').
CREATE TABLE IF NOT EXISTS "switchyard_idempotency" (
  key        text        PRIMARY KEY,
  state      text        NOT NULL CHECK (state IN ('claimed', 'done')),
  token      text        NOT NULL,
  result     bytea,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "switchyard_idempotency_expires_at_idx" ON "switchyard_idempotency" (expires_at);
