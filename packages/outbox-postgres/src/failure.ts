/**
 * Why a publish failed decides what happens to the row:
 * - permanent: the bus refused this message and would refuse it again (bad name or header for this
 *   transport, too large, a capability it lacks) → parked at once; retrying only delays the alert.
 * - outage: the broker is unreachable or the bus is closed → not the row's fault; the row waits
 *   with its attempts unchanged, so an outage of any length parks nothing.
 * - row: anything else while the bus reports itself healthy (the broker refused this message,
 *   e.g. a publisher nack) → counted; retried with backoff, parked after maxAttempts.
 */
import { errorMessage } from '@switchyard/core/spi';
import type { RelayBus } from './types.js';

export type FailureKind = 'permanent' | 'outage' | 'row';

/** Error codes (stable across packages; never instanceof) that retrying the same message cannot fix. */
const PERMANENT_CODES = new Set(['ERR_VALIDATION', 'ERR_PAYLOAD_TOO_LARGE', 'ERR_CAPABILITY']);

const HEALTH_TIMEOUT_MS = 5000;

export function errorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export async function classifyFailure(err: unknown, bus: RelayBus): Promise<FailureKind> {
  const code = errorCode(err);
  if (code !== undefined && PERMANENT_CODES.has(code)) return 'permanent';
  if (code === 'ERR_CLOSED') return 'outage';
  return (await healthy(bus)) ? 'row' : 'outage';
}

async function healthy(bus: RelayBus): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), HEALTH_TIMEOUT_MS);
    });
    const health = bus.health().then((h) => h.ok === true);
    return await Promise.race([health, timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** One line, bounded: last_error is for people reading the table. Bus errors never carry credentials. */
export function errorText(err: unknown): string {
  const code = errorCode(err);
  const text = `${code === undefined ? '' : `${code}: `}${errorMessage(err)}`.replace(/\s+/g, ' ');
  return text.length > 2000 ? `${text.slice(0, 1999)}…` : text;
}
