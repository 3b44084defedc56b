import type { ClaimResult } from '@switchyard/core';
import type { StoreCase } from '../case.js';
import type { StoreUnderTest } from '../options.js';
import type { StoreHarness } from '../harness.js';

const LEASE_MS = 1000;

async function stores(h: StoreHarness): Promise<StoreUnderTest[]> {
  const n = h.options.concurrentClaimants ?? 20;
  return Promise.all(Array.from({ length: n }, () => h.store()));
}

/** Every store claims `key` at the same moment. */
function race(all: StoreUnderTest[], key: string): Promise<ClaimResult[]> {
  return Promise.all(all.map((s) => s.claim(key, { leaseMs: 30_000 })));
}

const count = (results: ClaimResult[], status: ClaimResult['status']) => results.filter((r) => r.status === status).length;

export const concurrencyCases: StoreCase[] = [
  {
    id: 'store.concurrent-claims',
    title: 'concurrent claimants on separate connections: exactly one claims a free key, the rest see busy, then done',
    async run(h, expect) {
      const all = await stores(h);
      for (let round = 0; round < 5; round++) {
        const key = h.key(`race-${round}`);
        const results = await race(all, key);
        expect(count(results, 'claimed'), `round ${round}: ${results.map((r) => r.status).join(',')}`).toBe(1);
        expect(count(results, 'busy')).toBe(all.length - 1);
        const winner = results.findIndex((r) => r.status === 'claimed');
        const won = results[winner];
        if (won?.status !== 'claimed') throw new Error('unreachable');
        expect(await all[winner]!.complete(key, won.token, { ttlMs: 60_000, result: `round-${round}` })).toBe(true);
        expect(await race(all, key)).toEqual(all.map(() => ({ status: 'done', result: `round-${round}` })));
      }
    },
  },
  {
    id: 'store.concurrent-takeover',
    title: 'concurrent claimants on a lapsed lease: exactly one takes it over',
    async run(h, expect) {
      const all = await stores(h);
      const key = h.key('takeover-race');
      await h.claimed(all[0]!, key, LEASE_MS);
      await h.lapsed(all[0]!, LEASE_MS);
      const results = await race(all, key);
      expect(count(results, 'claimed'), results.map((r) => r.status).join(',')).toBe(1);
      expect(count(results, 'busy')).toBe(all.length - 1);
    },
  },
];
