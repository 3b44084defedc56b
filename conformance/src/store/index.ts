/**
 * The idempotency store suite: proves an IdempotencyStore keeps the contract written on the
 * interface in @switchyard/core, against the real server.
 *
 *   // redis-store.conformance.test.ts
 *   import { runStoreConformance } from '@switchyard/conformance';
 *   runStoreConformance({ name: 'redis', createStore: async () => redisIdempotencyStore({ url }) });
 *
 * Cases use unique keys and run concurrently on one server. A case the store cannot take part in
 * (no `extend`, no connection to cut) is reported "n/a" with the reason and asserts the reason.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { StoreCase, StoreProbe } from './case.js';
import { allStoreCases } from './cases/index.js';
import { StoreHarness } from './harness.js';
import type { StoreConformanceOptions } from './options.js';
import { StoreReport } from './report.js';
import { runCase } from '../run-case.js';

const DEFAULT_TIMEOUT_MS = 30_000;

export function runStoreConformance(options: StoreConformanceOptions): void {
  const scale = options.timeoutScale ?? 1;
  const report = new StoreReport(options.name, options.reportDir);
  let probe: StoreProbe | undefined;

  describe(`store conformance: ${options.name}`, () => {
    beforeAll(async () => {
      // One client up front: failing here means the server is unreachable or misconfigured.
      const store = await options.createStore();
      try {
        probe = { hasExtend: typeof store.extend === 'function' };
      } finally {
        await store.close?.();
      }
    }, 60_000 * scale);

    afterAll(async () => {
      await report.write(allStoreCases);
    });

    describe.concurrent('cases', () => {
      for (const c of allStoreCases) register(c);
    });
  });

  function register(c: StoreCase): void {
    it(`${c.id}: ${c.title}`, { timeout: (c.timeoutMs ?? DEFAULT_TIMEOUT_MS) * scale }, async ({ expect }) => {
      await runCase(
        c,
        c.notApplicable?.(options, probe!),
        expect,
        () => new StoreHarness(options, expect),
        (...args) => report.record(...args),
      );
    });
  }
}

export type { StoreConformanceOptions, StoreUnderTest } from './options.js';
export type { StoreCase } from './case.js';
export type { StoreConformanceReport } from './report.js';
export { allStoreCases } from './cases/index.js';
