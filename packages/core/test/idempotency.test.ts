import { describe, expect, it } from 'vitest';
import { memoryIdempotencyStore, type IdempotencyStore, type Message } from '../src/index.js';
import { memoryBus, topic, waitFor, closeAfterEach } from './helpers.js';

const track = closeAfterEach(1000);

/** A memory store that records the keys it is asked to claim. */
function recordingStore(): { store: IdempotencyStore; keys: string[] } {
  const inner = memoryIdempotencyStore();
  const keys: string[] = [];
  const store: IdempotencyStore = {
    claim: (key, options) => {
      keys.push(key);
      return inner.claim(key, options);
    },
    complete: (key, token, options) => inner.complete(key, token, options),
    release: (key, token) => inner.release(key, token),
  };
  return { store, keys };
}

describe('idempotency keys', () => {
  it('default to <group>:<message id> so groups sharing a store never skip each other', async () => {
    const bus = track(await memoryBus());
    const t = topic('idem-key');
    const { store, keys } = recordingStore();
    const billing: string[] = [];
    const shipping: string[] = [];
    await bus.subscribe(t, (m) => void billing.push(m.id), { group: 'billing', idempotency: { store } });
    await bus.subscribe(t, (m) => void shipping.push(m.id), { group: 'shipping', idempotency: { store } });
    await bus.publish(t, { n: 1 }, { id: 'm-1' });
    await waitFor(billing, 1);
    await waitFor(shipping, 1);
    expect(keys.sort()).toEqual(['billing:m-1', 'shipping:m-1']);
  });

  it('default to <group>:<request id> for reply handlers', async () => {
    const bus = track(await memoryBus());
    const t = topic('idem-reply-key');
    const { store, keys } = recordingStore();
    await bus.reply(t, () => ({ ok: true }), { group: 'inventory', idempotency: { store } });
    await bus.request(t, { sku: 'A' }, { id: 'req-1' });
    expect(keys).toEqual(['inventory:req-1']);
  });

  it('use a custom key function exactly as given', async () => {
    const bus = track(await memoryBus());
    const t = topic('idem-custom-key');
    const { store, keys } = recordingStore();
    const seen: string[] = [];
    await bus.subscribe(t, (m) => void seen.push(m.id), { group: 'billing', idempotency: { store, key: (m) => `order-${(m.body as { n: number }).n}` } });
    await bus.publish(t, { n: 7 });
    await waitFor(seen, 1);
    expect(keys).toEqual(['order-7']);
  });
});

describe('a store that cannot record a claim', () => {
  it('neither runs nor skips the message: it is retried, then dead-lettered with the reason', async () => {
    const bus = track(await memoryBus());
    const t = topic('idem-full');
    const store = memoryIdempotencyStore({ maxEntries: 1 });
    const held = await store.claim('someone-else', { leaseMs: 60_000 });
    expect(held.status).toBe('claimed');
    const runs: string[] = [];
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    await bus.subscribe(t, (m) => void runs.push(m.id), { idempotency: { store }, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5, factor: 2 } });
    await bus.publish(t, { n: 1 });
    await waitFor(dead, 1);
    expect(runs).toEqual([]);
    expect(dead[0]?.headers['x-switchyard-attempts']).toBe('3');
    expect(dead[0]?.headers['x-switchyard-error']).toMatch(/unexpired entries.*retried/);
  });
});

/** Claim a key that must be free; return the owner token. */
async function claimed(store: IdempotencyStore, key: string, leaseMs = 1000): Promise<string> {
  const result = await store.claim(key, { leaseMs });
  if (result.status !== 'claimed') throw new Error(`expected to claim "${key}", got ${result.status}`);
  expect(typeof result.token).toBe('string');
  return result.token;
}

describe('memoryIdempotencyStore', () => {
  it('claims once, reports busy while claimed, done after complete, and frees on release', async () => {
    let now = 0;
    const store = memoryIdempotencyStore({ now: () => now });
    const first = await claimed(store, 'k', 100);
    expect(await store.claim('k', { leaseMs: 100 })).toEqual({ status: 'busy' });
    expect(await store.release('k', first)).toBe(true);
    const second = await claimed(store, 'k', 100);
    expect(second).not.toBe(first);
    expect(await store.complete('k', second, { ttlMs: 1000, result: 'r' })).toBe(true);
    expect(await store.claim('k', { leaseMs: 100 })).toEqual({ status: 'done', result: 'r' });
    now = 2000; // done mark expired
    await claimed(store, 'k', 100);
    now = 2200; // lease expired: a crashed claimant does not block for ever
    await claimed(store, 'k', 100);
  });

  it('ignores release by a stale owner whose lease was taken over', async () => {
    let now = 0;
    const store = memoryIdempotencyStore({ now: () => now });
    const stale = await claimed(store, 'k', 100);
    now = 150;
    const owner = await claimed(store, 'k', 100);
    expect(await store.release('k', stale)).toBe(false);
    expect(await store.claim('k', { leaseMs: 100 })).toEqual({ status: 'busy' });
    expect(await store.release('k', owner)).toBe(true);
    await claimed(store, 'k', 100);
  });

  it('ignores complete by a stale owner: the new owner decides the result', async () => {
    let now = 0;
    const store = memoryIdempotencyStore({ now: () => now });
    const stale = await claimed(store, 'k', 100);
    now = 150;
    const owner = await claimed(store, 'k', 100);
    expect(await store.complete('k', stale, { ttlMs: 10_000, result: 'stale' })).toBe(false);
    expect(await store.claim('k', { leaseMs: 100 })).toEqual({ status: 'busy' });
    expect(await store.complete('k', owner, { ttlMs: 10_000, result: 'owner' })).toBe(true);
    expect(await store.claim('k', { leaseMs: 100 })).toEqual({ status: 'done', result: 'owner' });
  });

  it('never lets a release undo a done mark', async () => {
    const store = memoryIdempotencyStore();
    const token = await claimed(store, 'k');
    await store.complete('k', token, { ttlMs: 10_000 });
    expect(await store.release('k', token)).toBe(false);
    expect(await store.claim('k', { leaseMs: 100 })).toEqual({ status: 'done' });
  });

  it('treats a lapsed lease as lost even before anyone takes it over', async () => {
    let now = 0;
    const store = memoryIdempotencyStore({ now: () => now });
    const token = await claimed(store, 'k', 100);
    now = 100;
    expect(await store.complete('k', token, { ttlMs: 10_000 })).toBe(false);
    await claimed(store, 'k', 100);
  });

  it('when full of live entries, refuses new keys but still recognises every done mark', async () => {
    const now = 0;
    const store = memoryIdempotencyStore({ now: () => now, maxEntries: 10 });
    await store.complete('paid', await claimed(store, 'paid', 100), { ttlMs: 60_000, result: 'receipt' });
    for (let i = 0; i < 9; i++) await claimed(store, `busy-${i}`, 60_000);
    for (let i = 0; i < 1000; i++) {
      await expect(store.claim(`new-${i}`, { leaseMs: 100 })).rejects.toMatchObject({ code: 'ERR_IDEMPOTENCY_STORE_FULL' });
    }
    expect(await store.claim('paid', { leaseMs: 100 })).toEqual({ status: 'done', result: 'receipt' });
    expect(await store.claim('busy-0', { leaseMs: 100 })).toEqual({ status: 'busy' });
  });

  it('reclaims expired entries, oldest expiry first, without dropping live done marks', async () => {
    let now = 0;
    const store = memoryIdempotencyStore({ now: () => now, maxEntries: 10 });
    // Inserted first but expires last: insertion order must not decide what goes.
    await store.complete('paid', await claimed(store, 'paid', 100), { ttlMs: 1_000_000, result: 'receipt' });
    for (let i = 0; i < 9; i++) await claimed(store, `crashed-${i}`, 100);
    now = 100; // every crashed claim's lease has lapsed
    for (let i = 0; i < 9; i++) await claimed(store, `next-${i}`, 100);
    await expect(store.claim('one-too-many', { leaseMs: 100 })).rejects.toMatchObject({ code: 'ERR_IDEMPOTENCY_STORE_FULL' });
    expect(await store.claim('paid', { leaseMs: 100 })).toEqual({ status: 'done', result: 'receipt' });
  });

  it('keeps working through many keys as done marks expire over time', async () => {
    let now = 0;
    const store = memoryIdempotencyStore({ now: () => now, maxEntries: 100 });
    for (let i = 0; i < 50_000; i++) {
      now += 1;
      const token = await claimed(store, `k${i}`, 10);
      await store.complete(`k${i}`, token, { ttlMs: 50 });
    }
    expect(await store.claim('k49999', { leaseMs: 10 })).toEqual({ status: 'done' });
    now += 50;
    await claimed(store, 'k49999', 10);
  });

  it('frees room on release and stays correct through many claim/release cycles', async () => {
    let now = 0;
    const store = memoryIdempotencyStore({ now: () => now, maxEntries: 2 });
    await store.complete('paid', await claimed(store, 'paid', 100), { ttlMs: 1_000_000 });
    for (let i = 0; i < 5000; i++) {
      now += 1;
      expect(await store.release(`retry-${i}`, await claimed(store, `retry-${i}`, 1_000_000))).toBe(true);
    }
    expect(await store.claim('paid', { leaseMs: 100 })).toEqual({ status: 'done' });
    const last = await claimed(store, 'last', 1_000_000);
    await expect(store.claim('one-too-many', { leaseMs: 100 })).rejects.toMatchObject({ code: 'ERR_IDEMPOTENCY_STORE_FULL' });
    expect(await store.complete('last', last, { ttlMs: 10 })).toBe(true);
    now += 10;
    await claimed(store, 'one-too-many', 100);
  });

  it('rejects a maxEntries that is not a positive integer', () => {
    expect(() => memoryIdempotencyStore({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
