import { afterEach, describe, expect, it } from 'vitest';
import { memoryIdempotencyStore, type Bus, type IdempotencyStore } from '../src/index.js';
import { memoryBus, topic, waitFor } from './helpers.js';

const buses: Bus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close({ drainTimeoutMs: 1000 })));
});
const track = (b: Bus) => {
  buses.push(b);
  return b;
};

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
});
