import type { StoreCase } from '../case.js';

/** How long an operation may take to fail while the store is unreachable: a hung claim holds a handler slot. */
const FAIL_WITHIN_MS = 15_000;

/** Settle `promise` as 'rejected' or with its value; fail the case if it neither resolves nor rejects in time. */
async function outcome<T>(promise: Promise<T>, what: string): Promise<{ rejected: true } | { rejected: false; value: T }> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} neither failed nor answered within ${FAIL_WITHIN_MS} ms of the store going away`)), FAIL_WITHIN_MS);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ rejected: false as const, value }),
        () => ({ rejected: true as const }),
      ),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const outageCases: StoreCase[] = [
  {
    id: 'store.outage-fails-closed',
    title: 'store unreachable: claim throws (never claimed or done), nothing reports a change it did not record; all state survives',
    timeoutMs: 60_000,
    notApplicable: (options) =>
      options.outage ? undefined : { reason: 'in-process store: there is no connection to lose', check: (expect) => expect(options.outage).toBeUndefined() },
    async run(h, expect) {
      const outage = h.options.outage!;
      const store = h.track(await outage.createStore());
      const done = h.key('outage-done');
      const held = h.key('outage-held');
      expect(await store.complete(done, await h.claimed(store, done, 30_000), { ttlMs: 600_000, result: 'before' })).toBe(true);
      const holder = await h.claimed(store, held, 60_000);

      const restore = await outage.cut();
      try {
        for (const key of [done, held, h.key('outage-new')]) {
          const claim = await outcome(store.claim(key, { leaseMs: 30_000 }), `claim of ${key}`);
          expect(claim, `claim while the store is unreachable must throw, got ${JSON.stringify(claim)}`).toEqual({ rejected: true });
        }
        const complete = await outcome(store.complete(held, holder, { ttlMs: 600_000 }), 'complete');
        expect(complete.rejected || complete.value === false, 'complete must throw or return false').toBe(true);
        const release = await outcome(store.release(held, holder), 'release');
        expect(release.rejected || release.value === false, 'release must throw or return false').toBe(true);
        if (store.extend) {
          const extend = await outcome(store.extend(held, holder, { leaseMs: 60_000 }), 'extend');
          expect(extend.rejected || extend.value === false, 'extend must throw or return false').toBe(true);
        }
      } finally {
        await restore();
      }

      // Back: the done mark and the claim are exactly as before (the client reconnects by itself).
      const deadline = Date.now() + 20_000;
      for (;;) {
        const back = await outcome(store.claim(done, { leaseMs: 30_000 }), 'claim after the outage');
        if (!back.rejected) {
          expect(back.value).toEqual({ status: 'done', result: 'before' });
          break;
        }
        if (Date.now() > deadline) throw new Error('The store did not recover within 20 s of its connection coming back.');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await store.claim(held, { leaseMs: 30_000 })).toEqual({ status: 'busy' });
      expect(await store.complete(held, holder, { ttlMs: 600_000, result: 'after' })).toBe(true);
      expect(await store.claim(held, { leaseMs: 30_000 })).toEqual({ status: 'done', result: 'after' });
    },
  },
];
