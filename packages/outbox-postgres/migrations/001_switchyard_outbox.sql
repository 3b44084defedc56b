-- Switchyard transactional outbox: one row per message, written in the application's transaction.
CREATE TABLE IF NOT EXISTS "switchyard_outbox" (
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
CREATE INDEX IF NOT EXISTS "switchyard_outbox_pending_idx" ON "switchyard_outbox" (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS "switchyard_outbox_pending_key_idx" ON "switchyard_outbox" (key, id) WHERE status = 'pending' AND key IS NOT NULL;
CREATE INDEX IF NOT EXISTS "switchyard_outbox_sent_idx" ON "switchyard_outbox" (sent_at) WHERE status = 'sent';
CREATE INDEX IF NOT EXISTS "switchyard_outbox_parked_idx" ON "switchyard_outbox" (id) WHERE status = 'parked';
CREATE INDEX IF NOT EXISTS "switchyard_outbox_message_id_idx" ON "switchyard_outbox" (message_id);
-- Wake-up hint for relays: one NOTIFY per inserting statement, delivered at commit (never on rollback).
CREATE OR REPLACE FUNCTION "switchyard_outbox_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('switchyard_outbox', 'insert');
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER "switchyard_outbox_notify" AFTER INSERT ON "switchyard_outbox" FOR EACH STATEMENT EXECUTE FUNCTION "switchyard_outbox_notify"();
