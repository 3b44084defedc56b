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
    complete: (key, options) => inner.complete(key, options),
    release: (key) => inner.release(key),
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
