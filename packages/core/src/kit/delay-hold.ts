/**
 * Emulated delay (capabilities.delay 'emulated'), the transport's part: how long to hold a
 * delivered message before handing it to core, without counting it against prefetch, so the
 * messages behind it flow meanwhile. Core stamps `ce-notbefore` on delayed messages; the hold is
 * at most EMULATED_DELAY_HOLD_MS (core then republishes what is still not due), and a copy core
 * republished for another group (`x-switchyard-for-group`) is handed over at once: core settles
 * it unhandled, and holding it would only hold back this group.
 */
import { dueAtFor, EMULATED_DELAY_HOLD_MS } from '../group-copy.js';
import type { WireMessage } from '../spi.js';

/** Milliseconds to hold `message` for `group` (0: hand it over now). */
export function delayHoldMs(message: WireMessage, group: string, now = Date.now()): number {
  return Math.max(0, Math.min(dueAtFor(message, group) - now, EMULATED_DELAY_HOLD_MS));
}
