import type { CaseResult } from './report.js';
import type { Expect } from './harness.js';

/** What both suites (bus and store) need from a case, its n/a verdict and its report. */
export interface Runnable<H> {
  readonly run: (harness: H, expect: Expect) => Promise<void>;
}
export interface NotApplicable {
  readonly reason: string;
  readonly check: (expect: Expect) => void;
}

/**
 * Run one case and record it: "n/a" only after its claim was checked, else pass or fail with the
 * first line of the error; the harness is cleaned up either way.
 */
export async function runCase<C extends Runnable<H>, H extends { cleanup(): Promise<void> }>(
  c: C,
  na: NotApplicable | undefined,
  expect: Expect,
  makeHarness: () => H,
  record: (c: C, status: CaseResult['status'], durationMs: number, reason?: string) => void,
): Promise<void> {
  if (na) {
    na.check(expect);
    record(c, 'n/a', 0, na.reason);
    return;
  }
  const harness = makeHarness();
  const started = performance.now();
  try {
    await c.run(harness, expect);
    record(c, 'pass', performance.now() - started);
  } catch (err) {
    record(c, 'fail', performance.now() - started, err instanceof Error ? err.message.split('\n')[0] : String(err));
    throw err;
  } finally {
    await harness.cleanup();
  }
}
