/**
 * Transport.health() for adapters that ask the broker: closed → not ok without a round trip;
 * else run `probe` (cheap: describe the cluster, list one queue) and report open with what it
 * returned (when an object), or unreachable with the error — through `scrub`, since broker errors can quote
 * endpoints and credentials.
 */
import { errorMessage } from '../errors.js';

export interface HealthReport {
  ok: boolean;
  details: Record<string, unknown>;
}

export async function probeHealth(
  details: Record<string, unknown>,
  closed: boolean,
  probe: () => Promise<unknown>,
  scrub: (text: string) => string = (text) => text,
): Promise<HealthReport> {
  if (closed) return { ok: false, details: { ...details, state: 'closed' } };
  try {
    const extra = await probe();
    return { ok: true, details: { ...details, state: 'open', ...(typeof extra === 'object' && extra !== null ? extra : {}) } };
  } catch (err) {
    return { ok: false, details: { ...details, state: 'unreachable', error: scrub(errorMessage(err)) } };
  }
}
