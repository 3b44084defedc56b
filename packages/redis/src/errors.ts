import { ConnectionError, SwitchyardError } from '@switchyard/core';
import { errorMessage, scrubSecrets, urlSecrets } from '@switchyard/core/spi';
import { ErrorReply } from 'redis';

/** The error's message with any password from `url` blanked out: errors and logs never carry credentials. */
export function scrub(err: unknown, url: string | undefined): string {
  return scrubSecrets(errorMessage(err), urlSecrets(url));
}

/**
 * Why an operation failed, as a Switchyard error with a stable code. No cause is attached: the
 * client's error objects are not ours to vouch for, so only their scrubbed message travels.
 */
export function storeError(operation: string, key: string, err: unknown, url: string | undefined): SwitchyardError {
  const why = scrub(err, url);
  if (err instanceof ErrorReply) {
    return new SwitchyardError(
      'ERR_IDEMPOTENCY_STORE',
      `Redis refused the idempotency ${operation} of "${key}": ${why}. Check that nothing else writes keys under the store's prefix; the message is retried.`,
    );
  }
  return new ConnectionError(`Redis idempotency store could not ${operation} "${key}": ${why}. The message is retried later; check that Redis is reachable.`);
}
