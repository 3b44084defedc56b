import type { Expect } from '../harness.js';
import type { StoreHarness } from './harness.js';
import type { StoreConformanceOptions } from './options.js';

export interface StoreCase {
  /** Stable id used in reports, e.g. "store.lease-takeover". */
  readonly id: string;
  readonly title: string;
  readonly timeoutMs?: number;
  /**
   * Why the case does not apply to this store, or undefined when it does. `check` asserts the
   * claim (e.g. that the store really has no `extend`), so "n/a" is never a silent pass.
   */
  readonly notApplicable?: (options: StoreConformanceOptions, probe: StoreProbe) => { reason: string; check: (expect: Expect) => void } | undefined;
  run(h: StoreHarness, expect: Expect): Promise<void>;
}

/** What the suite learned from one store before the cases run. */
export interface StoreProbe {
  readonly hasExtend: boolean;
}
