/**
 * One retry loop for adapters (reconnects, coordinator moves, metadata not ready yet): exponential
 * backoff with equal jitter, the same curve as core's handler retries, so no adapter hand-rolls its own.
 */
import { backoffDelay } from '../retry.js';
import { sleep } from '../sleep.js';

export interface RetryingOptions {
  /** First wait (ms); doubles per attempt up to maxDelayMs. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Give up after this many attempts (default: no limit; bound it with deadlineMs or signal). */
  readonly attempts?: number;
  /** Give up once this much time has passed since the first attempt. */
  readonly deadlineMs?: number;
  /** Stop waiting and give up (the last error is thrown) when aborted. */
  readonly signal?: AbortSignal;
  /** Return false for errors that will not heal by waiting; they are thrown at once. */
  readonly retryIf?: (error: unknown, attempt: number) => boolean;
  /** Called before each wait (for logging or refreshing state). */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void | Promise<void>;
}

/** Runs `operation(attempt)` (attempt starts at 1) until it resolves or the options say stop; then throws its last error. */
export async function retrying<T>(operation: (attempt: number) => Promise<T>, options: RetryingOptions): Promise<T> {
  const started = Date.now();
  const policy = { maxAttempts: Number.MAX_SAFE_INTEGER, initialDelayMs: options.initialDelayMs, maxDelayMs: options.maxDelayMs, factor: 2 };
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (err) {
      const outOfAttempts = options.attempts !== undefined && attempt >= options.attempts;
      const delayMs = backoffDelay(policy, attempt + 1);
      const outOfTime = options.deadlineMs !== undefined && Date.now() - started + delayMs > options.deadlineMs;
      if (outOfAttempts || outOfTime || options.signal?.aborted || (options.retryIf && !options.retryIf(err, attempt))) throw err;
      await options.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, options.signal);
      if (options.signal?.aborted) throw err;
    }
  }
}
