/**
 * Copies core republishes for one group of a topic: a delay longer than the broker can wait out
 * (emulated delay, a native delay beyond its maximum, a pull nack the broker cannot delay). The
 * copy goes to the topic, so every group gets it; the others settle it unhandled (forGroup).
 */
import { Attr, InternalHeader } from './codec.js';
import type { Transport, WireMessage } from './spi.js';

/**
 * Longest a consumer holds a not-yet-due message (emulated delay) before replacing it with a copy
 * for its group: long enough that short delays cost no republish, short enough that a held
 * message does not pin the broker's offset or lease for long.
 */
export const EMULATED_DELAY_HOLD_MS = 5000;

export interface GroupCopy {
  readonly topic: string;
  readonly group: string;
  /** Attempts the original used so far (its next delivery is attempt priorAttempts + 1). */
  readonly priorAttempts: number;
  /** When the copy is due (epoch ms). */
  readonly dueAt: number;
}

/** Publish the copy (resolves once confirmed); the caller then acks the original. */
export async function republishForGroup(transport: Transport, wire: WireMessage, copy: GroupCopy): Promise<void> {
  const headers: Record<string, string> = { ...wire.headers, [InternalHeader.forGroup]: copy.group, [InternalHeader.priorAttempts]: String(copy.priorAttempts) };
  const remaining = copy.dueAt - Date.now();
  const { delay, maxNativeDelayMs } = transport.capabilities;
  const delayMs = delay === 'native' ? Math.min(Math.max(0, remaining), maxNativeDelayMs) : 0;
  // The broker waits what it can; the rest the receiving runner holds or republishes again.
  if (remaining > delayMs) headers[Attr.notBefore] = new Date(copy.dueAt).toISOString();
  else delete headers[Attr.notBefore];
  await transport.publish({ topic: copy.topic, message: { ...wire, headers }, ...(delayMs > 0 ? { delayMs } : {}) });
}

/**
 * When `message` is due for `group` (epoch ms; 0 when it carries no `ce-notbefore`). A copy core
 * republished for another group is due at once: its consumer settles it unhandled.
 */
export function dueAtFor(message: WireMessage, group: string): number {
  const forGroup = message.headers[InternalHeader.forGroup];
  if (forGroup !== undefined && forGroup !== group) return 0;
  const notBefore = message.headers[Attr.notBefore];
  if (notBefore === undefined) return 0;
  const dueAt = Date.parse(notBefore);
  return Number.isNaN(dueAt) ? 0 : dueAt;
}
