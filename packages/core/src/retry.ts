import { z } from 'zod';
import { ValidationError } from './errors.js';
import type { RetryPolicy } from './types.js';

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 30_000, factor: 2 };

const retrySchema = z.strictObject({
  maxAttempts: z.number().int().min(1).max(1000),
  initialDelayMs: z.number().int().min(0).max(86_400_000),
  maxDelayMs: z.number().int().min(0).max(86_400_000),
  factor: z.number().min(1).max(100),
});

/** Fill defaults and validate; `false` means one attempt then dead-letter. */
export function resolveRetryPolicy(input: Partial<RetryPolicy> | false | undefined): RetryPolicy {
  if (input === false) return { ...DEFAULT_RETRY, maxAttempts: 1 };
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new ValidationError(
      `retry must be an object such as { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 30000, factor: 2 }, or false for no retries; got ${input === null ? 'null' : typeof input}.`,
    );
  }
  const merged = { ...DEFAULT_RETRY, ...(input ?? {}) };
  const parsed = retrySchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'retry'}: ${i.message}`);
    throw new ValidationError(`Invalid retry settings: ${issues.join('; ')}. Example: { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 30000, factor: 2 }.`, issues);
  }
  if (parsed.data.maxDelayMs < parsed.data.initialDelayMs) {
    throw new ValidationError(`Invalid retry settings: maxDelayMs (${parsed.data.maxDelayMs}) is below initialDelayMs (${parsed.data.initialDelayMs}).`);
  }
  return parsed.data;
}

/**
 * Delay before attempt `nextAttempt` (2 = first retry): exponential, capped, with "equal jitter"
 * (half fixed, half random) so a burst of failures does not retry in lockstep.
 */
export function backoffDelay(policy: RetryPolicy, nextAttempt: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, nextAttempt - 2);
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** exponent);
  const half = base / 2;
  return Math.round(half + random() * half);
}
