import type { StoreCase } from '../case.js';

const TTL_MS = 1000;

/** 100 KiB of mixed-width text: a large cached reply must come back byte for byte. */
function largeResult(): string {
  const pattern = 'reply-Ω-€-😀-中文-\t"\\\u0001';
  let text = '';
  while (text.length < 100 * 1024) text += pattern;
  return `${text.slice(0, 100 * 1024 - 1)}Z`;
}

export const resultCases: StoreCase[] = [
  {
    id: 'store.result-round-trip',
    title: 'the cached result comes back exactly: empty string, unicode, NUL, 100 KiB; none stays none',
    async run(h, expect) {
      const store = await h.store();
      const results = ['', 'plain', '{"reservation":1}', 'Grüße, 世界 👋 — ’quotes’ \u0000 NUL \r\n line breaks', largeResult()];
      for (const result of results) {
        const key = h.key('result');
        expect(await store.complete(key, await h.claimed(store, key, 30_000), { ttlMs: 60_000, result })).toBe(true);
        const again = await store.claim(key, { leaseMs: 30_000 });
        expect(again.status).toBe('done');
        const back = again.status === 'done' ? again.result : undefined;
        expect(typeof back, `result of length ${result.length}`).toBe('string');
        expect(back === result, `result of length ${result.length} comes back identical (got length ${back?.length})`).toBe(true);
      }
      const none = h.key('no-result');
      expect(await store.complete(none, await h.claimed(store, none, 30_000), { ttlMs: 60_000 })).toBe(true);
      const done = await store.claim(none, { leaseMs: 30_000 });
      expect(done.status).toBe('done');
      expect(done.status === 'done' && 'result' in done ? done.result : undefined, 'no result is not an empty result').toBeUndefined();
    },
  },
  {
    id: 'store.repeat-complete',
    title: 'completing again with the same token returns true and keeps the mark, its result and its TTL',
    async run(h, expect) {
      const store = await h.store();
      const kept = h.key('kept');
      const token = await h.claimed(store, kept, 30_000);
      expect(await store.complete(kept, token, { ttlMs: 60_000, result: 'first' })).toBe(true);
      expect(await store.complete(kept, token, { ttlMs: 60_000, result: 'second' })).toBe(true);
      expect(await store.claim(kept, { leaseMs: 30_000 })).toEqual({ status: 'done', result: 'first' });

      const filled = h.key('filled');
      const filler = await h.claimed(store, filled, 30_000);
      expect(await store.complete(filled, filler, { ttlMs: 60_000 })).toBe(true);
      expect(await store.complete(filled, filler, { ttlMs: 60_000, result: 'reply' }), 'a mark without a result gets the late one').toBe(true);
      expect(await store.claim(filled, { leaseMs: 30_000 })).toEqual({ status: 'done', result: 'reply' });

      const short = h.key('short');
      const shorter = await h.claimed(store, short, 30_000);
      expect(await store.complete(short, shorter, { ttlMs: TTL_MS })).toBe(true);
      expect(await store.complete(short, shorter, { ttlMs: 600_000 })).toBe(true);
      await h.lapsed(store, TTL_MS);
      await h.claimed(store, short, 30_000); // the repeat did not stretch the TTL
    },
  },
  {
    id: 'store.done-ttl',
    title: 'a done mark answers done until its TTL ends, then the key is free again',
    async run(h, expect) {
      const [writer, reader] = [await h.store(), await h.store()];
      const key = h.key('ttl');
      const token = await h.claimed(writer, key, 30_000);
      expect(await writer.complete(key, token, { ttlMs: TTL_MS, result: 'r' })).toBe(true);
      expect(await reader.claim(key, { leaseMs: 30_000 }), 'another client sees the mark').toEqual({ status: 'done', result: 'r' });
      await h.lapsed(writer, TTL_MS);
      const next = await h.claimed(reader, key, 30_000);
      expect(await writer.complete(key, token, { ttlMs: 60_000 }), 'the expired mark is not revived by its old token').toBe(false);
      expect(await reader.claim(key, { leaseMs: 30_000 })).toEqual({ status: 'busy' });
      expect(await reader.release(key, next)).toBe(true);
    },
  },
];
