import type { StoreCase } from '../case.js';

export const claimCases: StoreCase[] = [
  {
    id: 'store.claim-done-release',
    title: 'claim, busy while claimed, release frees the key, complete makes it done for good',
    async run(h, expect) {
      const store = await h.store();
      const key = h.key('cycle');
      const first = await h.claimed(store, key, 30_000);
      expect(await store.claim(key, { leaseMs: 30_000 })).toEqual({ status: 'busy' });
      expect(await store.release(key, first)).toBe(true);
      const second = await h.claimed(store, key, 30_000);
      expect(second, 'each claim gets a new token').not.toBe(first);
      expect(await store.complete(key, first, { ttlMs: 60_000 }), 'the released token no longer owns the key').toBe(false);
      expect(await store.claim(key, { leaseMs: 30_000 })).toEqual({ status: 'busy' });
      expect(await store.complete(key, second, { ttlMs: 60_000 })).toBe(true);
      const done = await store.claim(key, { leaseMs: 30_000 });
      expect(done.status).toBe('done');
      expect(done.status === 'done' ? done.result : 'not done', 'completed without a result').toBeUndefined();
      expect(await store.release(key, second), 'release never undoes a done mark').toBe(false);
      expect((await store.claim(key, { leaseMs: 30_000 })).status).toBe('done');
    },
  },
  {
    id: 'store.foreign-token',
    title: 'a token the store never issued for the key changes nothing, and nothing is marked done unclaimed',
    async run(h, expect) {
      const store = await h.store();
      const held = h.key('held');
      const other = h.key('other');
      const owner = await h.claimed(store, held, 30_000);
      const elsewhere = await h.claimed(store, other, 30_000);
      for (const token of ['not-a-token', '', elsewhere]) {
        expect(await store.complete(held, token, { ttlMs: 60_000, result: 'forged' }), `complete with ${JSON.stringify(token)}`).toBe(false);
        expect(await store.release(held, token), `release with ${JSON.stringify(token)}`).toBe(false);
        if (store.extend) expect(await store.extend(held, token, { leaseMs: 60_000 }), `extend with ${JSON.stringify(token)}`).toBe(false);
      }
      expect(await store.claim(held, { leaseMs: 30_000 })).toEqual({ status: 'busy' });
      // A key nobody claimed: complete must not create a done mark, release must not fail open.
      const free = h.key('free');
      expect(await store.complete(free, owner, { ttlMs: 60_000, result: 'forged' })).toBe(false);
      expect(await store.release(free, owner)).toBe(false);
      if (store.extend) expect(await store.extend(free, owner, { leaseMs: 60_000 })).toBe(false);
      await h.claimed(store, free, 30_000);
      expect(await store.complete(held, owner, { ttlMs: 60_000, result: 'mine' })).toBe(true);
      expect(await store.claim(held, { leaseMs: 30_000 })).toEqual({ status: 'done', result: 'mine' });
    },
  },
  {
    id: 'store.awkward-keys',
    title: 'unicode, separators, 1000-character keys and keys differing only in case are distinct keys',
    async run(h, expect) {
      const store = await h.store();
      const base = h.key('awkward');
      const keys = [`${base}:ключ 🔑 ü`, `${base}:a`, `${base}:A`, `${base}:a:b`, `${base}:a b`, `${base}:${'x'.repeat(1000)}`, `${base}:'"\\%_*?[]{}`];
      const tokens = new Map<string, string>();
      for (const key of keys) tokens.set(key, await h.claimed(store, key, 30_000));
      for (const [i, key] of keys.entries()) {
        expect(await store.complete(key, tokens.get(key)!, { ttlMs: 60_000, result: `r${i}` })).toBe(true);
      }
      for (const [i, key] of keys.entries()) expect(await store.claim(key, { leaseMs: 30_000 }), key.slice(0, 80)).toEqual({ status: 'done', result: `r${i}` });
    },
  },
];
