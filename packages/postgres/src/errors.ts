import { ConnectionError, SwitchyardError } from '@switchyard/core';
import { errorMessage, scrubSecrets, urlSecrets } from '@switchyard/core/spi';

/** The error's message with any password from `connectionString` blanked out: errors and logs never carry credentials. */
export function scrub(err: unknown, connectionString: string | undefined): string {
  return scrubSecrets(errorMessage(err), urlSecrets(connectionString));
}

/** A PostgreSQL error reply carries a five-character SQLSTATE; connection failures don't. */
function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** SQLSTATE classes that mean "the server or the connection went away", not "the statement is wrong". */
const CONNECTION_CLASSES = ['08', '57', '53'];

/**
 * Why an operation failed, as a Switchyard error with a stable code. No cause is attached: only
 * the scrubbed message travels, so nothing the driver kept (connection parameters) can leak.
 */
export function storeError(operation: string, key: string, err: unknown, table: string, connectionString: string | undefined): SwitchyardError {
  const why = scrub(err, connectionString);
  const state = sqlState(err);
  if (state === '42P01') {
    return new SwitchyardError(
      'ERR_IDEMPOTENCY_STORE',
      `PostgreSQL idempotency store: table "${table}" does not exist (${why}). Run the migration (@switchyard/postgres/migrations/001_switchyard_idempotency.sql or idempotencyTableSql()) or pass createTable: true; the message is retried.`,
    );
  }
  if (state === undefined || CONNECTION_CLASSES.includes(state.slice(0, 2))) {
    return new ConnectionError(`PostgreSQL idempotency store could not ${operation} "${key}": ${why}. The message is retried later; check that PostgreSQL is reachable.`);
  }
  return new SwitchyardError('ERR_IDEMPOTENCY_STORE', `PostgreSQL refused the idempotency ${operation} of "${key}" (SQLSTATE ${state}): ${why}. The message is retried.`);
}

/** completeIn's answer when the handler no longer owns its claim: the transaction must not commit. */
export class ClaimLostError extends SwitchyardError {
  constructor(key: string) {
    super(
      'ERR_IDEMPOTENCY_CLAIM_LOST',
      `The idempotency claim on "${key}" is no longer held by this handler (its lease lapsed; another instance may have taken it over). Roll the transaction back: the message is retried and runs once.`,
    );
    this.name = 'ClaimLostError';
  }
}
