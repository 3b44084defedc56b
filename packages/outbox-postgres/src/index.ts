export { createOutbox, Outbox } from './outbox.js';
export { Relay } from './relay.js';
export { OUTBOX_SCHEMA_SQL, outboxSchemaSql, DEFAULT_TABLE } from './schema.js';
export type { OutboxOptions, RelayBus, RelayOptions, RelayRetryOptions, RelayStats, RelayEventMap, ParkedRow, SqlClient } from './types.js';
