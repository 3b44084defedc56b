import { outlasts } from '@switchyard/core/spi';
import { flushAcks } from './acks.js';

/** Whether `promise` settled (either way) within ms; it is left running otherwise. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return !(await outlasts(
    promise.catch(() => undefined),
    ms,
  ));
}

/**
 * Close a channel or connection, but don't wait for ever on a connection that is silently gone. A
 * channel first sends the acks it batched (closing would requeue those messages).
 */
export async function closeQuietly(closable: { close(): Promise<void> } | undefined, timeoutMs = 2000): Promise<void> {
  if (closable === undefined) return;
  flushAcks(closable);
  await settledWithin(closable.close(), timeoutMs);
}
