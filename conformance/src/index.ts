/**
 * @switchyard/conformance — run the shared suite against any transport:
 *
 *   // my-broker.conformance.test.ts
 *   import { runConformance } from '@switchyard/conformance';
 *   runConformance({ name: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:5672' });
 *
 * Every case drives only the public Bus API with unique topic and group names, so cases run in
 * parallel on one long-lived broker. Cases whose capability the transport lacks are reported
 * "n/a" with the reason (and assert the capability really is absent). A JSON report is written
 * when the suite ends.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createBus, silentLogger, type Capabilities } from '@switchyard/core';
import { allCases } from './cases/index.js';
import type { ConformanceCase } from './case.js';
import { Harness, type ConformanceOptions } from './harness.js';
import { Report } from './report.js';
import { runCase } from './run-case.js';

export type { ConformanceOptions } from './harness.js';
export type { ConformanceCase } from './case.js';
export type { ConformanceReport, CaseResult } from './report.js';
export { allCases } from './cases/index.js';
export { cleanupAfterEach, Collector, deferred } from './harness.js';
export { CuttableProxy } from './proxy.js';
export { runStoreConformance, allStoreCases, type StoreConformanceOptions, type StoreUnderTest, type StoreCase, type StoreConformanceReport } from './store/index.js';

const DEFAULT_TIMEOUT_MS = 30_000;

export function runConformance(options: ConformanceOptions): void {
  if (!options.url && !options.createBus) throw new Error('runConformance needs a url or a createBus function.');
  const scale = options.timeoutScale ?? 1;
  let capabilities: Capabilities | undefined;
  const report = new Report(options);

  describe(`conformance: ${options.name}`, () => {
    beforeAll(async () => {
      // One probe bus tells which cases apply; failing here means the broker is unreachable.
      const probe = options.createBus ? await options.createBus('conformance-probe') : await createBus({ url: options.url!, service: 'conformance-probe', logger: silentLogger });
      capabilities = probe.capabilities;
      report.capabilities = capabilities;
      report.transport = (await probe.health()).transport;
      await probe.close();
    }, 60_000 * scale);

    afterAll(async () => {
      await report.write();
    });

    const cases = selectCases(options.only);
    const shared = cases.filter((c) => !c.exclusive);
    const exclusive = cases.filter((c) => c.exclusive);

    // vitest fails a describe without tests, and `only` can leave either group empty.
    if (shared.length > 0) {
      describe.concurrent('shared broker', () => {
        for (const c of shared) register(c);
      });
    }
    if (exclusive.length > 0) {
      describe.sequential('exclusive', () => {
        for (const c of exclusive) register(c);
      });
    }

    function register(c: ConformanceCase): void {
      it(`${c.id}: ${c.title}`, { timeout: (c.timeoutMs ?? DEFAULT_TIMEOUT_MS) * scale }, async ({ expect }) => {
        const caps = capabilities!;
        await runCase(
          c,
          c.notApplicable?.(caps, options),
          expect,
          () => new Harness(options, caps),
          (...args) => report.record(...args),
        );
      });
    }
  });
}

/** The cases `only` asks for (all by default); a filter that matches nothing is a mistake, not an empty pass. */
function selectCases(only: readonly string[] | undefined): readonly ConformanceCase[] {
  if (only === undefined) return allCases;
  const cases = allCases.filter((c) => only.some((prefix) => c.id.startsWith(prefix)));
  if (cases.length === 0) throw new Error(`runConformance: no case id starts with ${only.map((p) => JSON.stringify(p)).join(' or ')}; ids look like "idempotency.duplicates".`);
  return cases;
}
export { publishWithDuplicates, Workers, type Progress } from './workers.js';
