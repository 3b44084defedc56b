import type { Capabilities } from '@switchyard/core';
import type { ConformanceOptions, Expect, Harness } from './harness.js';

export interface ConformanceCase {
  /** Stable id used in reports and the README matrix, e.g. "delivery.roundtrip". */
  readonly id: string;
  readonly title: string;
  readonly timeoutMs?: number;
  /** Must run alone (restarts the broker, saturates it). */
  readonly exclusive?: boolean;
  /**
   * Why the case does not apply, or undefined when it does. `check` then asserts the claim
   * (e.g. that the capability really is absent), so "n/a" is never a silent pass.
   */
  readonly notApplicable?: (caps: Capabilities, options: ConformanceOptions) => { reason: string; check: (expect: Expect) => void } | undefined;
  run(h: Harness, expect: Expect): Promise<void>;
}
