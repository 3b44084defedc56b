import type { StoreCase } from '../case.js';

/** Short enough to keep the suite quick; long enough that a loaded machine still makes the calls that must land inside it. */
const LEASE_MS = 1000;

const needsExtend: StoreCase['notApplicable'] = (_options, probe) =>
  probe.hasExtend ? undefined : { reason: 'store has no extend()', check: (expect) => expect(probe.hasExtend).toBe(false) };

export const leaseCases: StoreCase[] = [
  {
    id: 'store.lease-takeover',
    title: 'a lapsed lease lets the next claim take the key over with a new token, not before',
    async run(h, expect) {
      const store = await h.store();
      const key = h.key('lease');
      const started = performance.now();
      const crashed = await h.claimed(store, key, LEASE_MS);
      expect(await store.claim(key, { leaseMs: LEASE_MS }), 'busy while the lease runs').toEqual({ status: 'busy' });
      await h.lapsed(store, LEASE_MS);
      const next = await h.claimed(store, key, 30_000);
      expect(next).not.toBe(crashed);
      // The store's clock started the lease after `started`, so the take-over cannot be earlier.
      expect(performance.now() - started).toBeGreaterThanOrEqual(LEASE_MS - 25);
      expect(await store.claim(key, { leaseMs: 30_000 }), 'the new owner holds the key').toEqual({ status: 'busy' });
    },
  },
  {
    id: 'store.stale-owner',
    title: 'an owner whose lease was taken over can neither release, complete nor extend',
    async run(h, expect) {
      const [a, b] = [await h.store(), await h.store()];
      const key = h.key('stale');
      const stale = await h.claimed(a, key, LEASE_MS);
      await h.lapsed(a, LEASE_MS);
      const owner = await h.claimed(b, key, 30_000);
      expect(await a.release(key, stale)).toBe(false);
      expect(await a.complete(key, stale, { ttlMs: 60_000, result: 'stale' })).toBe(false);
      if (a.extend) expect(await a.extend(key, stale, { leaseMs: 60_000 })).toBe(false);
      expect(await a.claim(key, { leaseMs: 30_000 }), 'the new owner still holds the key').toEqual({ status: 'busy' });
      expect(await b.complete(key, owner, { ttlMs: 60_000, result: 'owner' })).toBe(true);
      expect(await a.complete(key, stale, { ttlMs: 60_000, result: 'stale' })).toBe(false);
      expect(await a.claim(key, { leaseMs: 30_000 })).toEqual({ status: 'done', result: 'owner' });
    },
  },
  {
    id: 'store.lapsed-owner',
    title: 'a lapsed lease is lost even before anyone takes it over: the key is free, not done',
    async run(h, expect) {
      const store = await h.store();
      const key = h.key('lapsed');
      const token = await h.claimed(store, key, LEASE_MS);
      await h.lapsed(store, LEASE_MS);
      expect(await store.complete(key, token, { ttlMs: 60_000 })).toBe(false);
      expect(await store.release(key, token)).toBe(false);
      if (store.extend) expect(await store.extend(key, token, { leaseMs: 60_000 })).toBe(false);
      await h.claimed(store, key, 30_000);
    },
  },
  {
    id: 'store.extend',
    title: 'extend keeps a claim alive past its original lease; the owner can still complete',
    notApplicable: needsExtend,
    async run(h, expect) {
      const store = await h.store();
      const key = h.key('extend');
      const token = await h.claimed(store, key, LEASE_MS);
      expect(await store.extend!(key, token, { leaseMs: 30_000 })).toBe(true);
      await h.lapsed(store, LEASE_MS);
      expect(await store.claim(key, { leaseMs: 30_000 }), 'still held after the original lease').toEqual({ status: 'busy' });
      expect(await store.extend!(key, token, { leaseMs: 30_000 }), 'extend again').toBe(true);
      expect(await store.complete(key, token, { ttlMs: 60_000, result: 'late but mine' })).toBe(true);
      expect(await store.extend!(key, token, { leaseMs: 30_000 }), 'a done mark is not a claim to extend').toBe(false);
      expect(await store.claim(key, { leaseMs: 30_000 })).toEqual({ status: 'done', result: 'late but mine' });
    },
  },
  {
    id: 'store.extend-shortens',
    title: 'extend sets the lease from now, so a short extend lets the claim lapse sooner',
    notApplicable: needsExtend,
    async run(h, expect) {
      const store = await h.store();
      const key = h.key('extend-short');
      const token = await h.claimed(store, key, 60_000);
      expect(await store.extend!(key, token, { leaseMs: LEASE_MS })).toBe(true);
      await h.lapsed(store, LEASE_MS);
      expect(await store.complete(key, token, { ttlMs: 60_000 }), 'the shortened lease has lapsed').toBe(false);
      await h.claimed(store, key, 30_000);
    },
  },
];
