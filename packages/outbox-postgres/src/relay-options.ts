import { ValidationError, type Logger, type RetryPolicy } from '@switchyard/core';
import type { RelayOptions } from './types.js';

const RELAY_OPTIONS = ['batchSize', 'pollIntervalMs', 'maxAttempts', 'retry', 'concurrency', 'leaseMs', 'retainSentMs', 'logger'] as const;
const RETRY_OPTIONS = ['initialDelayMs', 'maxDelayMs', 'factor'] as const;
const DAY_MS = 86_400_000;

export interface ResolvedRelayOptions {
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly maxAttempts: number;
  /** core's backoffDelay takes a RetryPolicy; maxAttempts there is the relay's. */
  readonly retry: RetryPolicy;
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly retainSentMs: number | false;
  readonly logger: Logger;
}

/** Every option checked up front: a typo or a bad value is an error, never silently ignored. */
export function resolveRelayOptions(options: RelayOptions, fallbackLogger: Logger): ResolvedRelayOptions {
  known(options, RELAY_OPTIONS, 'startRelay');
  const retry = options.retry ?? {};
  known(retry, RETRY_OPTIONS, 'startRelay retry');
  const maxAttempts = int(options.maxAttempts, 10, 1, 1000, 'maxAttempts');
  const initialDelayMs = int(retry.initialDelayMs, 1000, 0, DAY_MS, 'retry.initialDelayMs');
  const maxDelayMs = int(retry.maxDelayMs, 60_000, 0, DAY_MS, 'retry.maxDelayMs');
  if (maxDelayMs < initialDelayMs) throw new ValidationError(`retry.maxDelayMs (${maxDelayMs}) is below retry.initialDelayMs (${initialDelayMs}).`);
  const factor = retry.factor ?? 2;
  if (typeof factor !== 'number' || !(factor >= 1 && factor <= 100)) throw new ValidationError(`retry.factor must be a number from 1 to 100; got ${String(factor)}.`);
  const retainSentMs = options.retainSentMs === false ? false : int(options.retainSentMs, DAY_MS, 0, 3650 * DAY_MS, 'retainSentMs');
  const logger = options.logger ?? fallbackLogger;
  if (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function' || typeof logger.error !== 'function') {
    throw new ValidationError('logger must have debug, info, warn and error functions, e.g. console or silentLogger.');
  }
  return {
    batchSize: int(options.batchSize, 100, 1, 10_000, 'batchSize'),
    pollIntervalMs: int(options.pollIntervalMs, 1000, 10, DAY_MS, 'pollIntervalMs'),
    maxAttempts,
    retry: { maxAttempts, initialDelayMs, maxDelayMs, factor },
    concurrency: int(options.concurrency, 16, 1, 1000, 'concurrency'),
    leaseMs: int(options.leaseMs, 30_000, 1000, DAY_MS, 'leaseMs'),
    retainSentMs,
    logger,
  };
}

function known(options: unknown, allowed: readonly string[], where: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ValidationError(`${where} options must be an object.`);
  const unknown = Object.keys(options).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new ValidationError(`Unknown ${where} option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}. Allowed: ${allowed.join(', ')}.`);
  }
}

function int(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new ValidationError(`${name} must be an integer from ${min} to ${max}; got ${String(value)}.`);
  return value;
}
