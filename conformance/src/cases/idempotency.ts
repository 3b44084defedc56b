import type { IdempotencyStore, Message } from '@switchyard/core';
import type { ConformanceCase } from '../case.js';
import { Collector } from '../harness.js';

export const idempotencyCases: ConformanceCase[] = [
  {
    id: 'idempotency.duplicates',
    title: 'forced duplicate deliveries cause one side effect',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('idem');
      const inner = await h.store();
      // Watch the claims so the test knows when every delivery was looked at, without sleeping.
      const claims = new Collector<string>();
      const store: IdempotencyStore = {
        claim: async (key, opts) => {
          const result = await inner.claim(key, opts);
          if (result.status !== 'busy') claims.push(result.status);
          return result;
        },
        complete: (key, token, opts) => inner.complete(key, token, opts),
        release: (key, token) => inner.release(key, token),
      };
      const { extend } = inner;
      if (extend) store.extend = (key, token, opts) => extend.call(inner, key, token, opts);
      const effects = new Map<string, number>();
      const seen = new Collector<Message>();
      await bus.subscribe(
        topic,
        async (m) => {
          effects.set(m.id, (effects.get(m.id) ?? 0) + 1);
          seen.push(m);
        },
        { idempotency: { store }, concurrency: 4 },
      );
      // Each id published three times: the broker delivers all nine, as a retrying publisher would cause —
      // unless it drops a second publish of an id itself (nativeDedup, e.g. SQS FIFO): then three.
      for (const id of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) await bus.publish(topic, { id }, { id: `${h.run}-${id}` });
      await claims.waitFor(h.capabilities.nativeDedup ? 3 : 9);
      await seen.waitFor(3);
      expect(claims.items.filter((c) => c === 'claimed')).toHaveLength(3);
      expect([...effects.values()]).toEqual([1, 1, 1]);
    },
  },
  {
    id: 'idempotency.failure-releases',
    title: 'a failed handler releases its claim so the retry runs the side effect once',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('idemfail');
      const store = await h.store();
      const effects = new Collector<number>();
      await bus.subscribe(
        topic,
        async (m) => {
          if (m.attempt === 1) throw new Error('transient');
          effects.push(m.attempt);
        },
        { idempotency: { store }, retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50, factor: 2 } },
      );
      await bus.publish(topic, { x: 1 }, { id: `${h.run}-once` });
      await effects.waitFor(1);
      await bus.publish(topic, { x: 1 }, { id: `${h.run}-once` });
      await bus.publish(topic, { x: 2 }, { id: `${h.run}-other` });
      await effects.waitFor(2);
      expect(effects.items).toEqual([2, 2]);
    },
  },
  {
    id: 'idempotency.groups-share-store',
    title: 'two groups sharing one store each run their handler for every message',
    notApplicable: (caps) => (caps.fanOut ? undefined : { reason: 'transport has no fan-out', check: (expect) => expect(caps.fanOut).toBe(false) }),
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('idemgroups');
      // One store for the whole app is the natural setup; the default key must keep the groups apart.
      const store = await h.store();
      const billing = new Collector<Message>();
      const shipping = new Collector<Message>();
      await bus.subscribe(topic, (m) => billing.push(m), { group: h.group('billing'), idempotency: { store } });
      await bus.subscribe(topic, (m) => shipping.push(m), { group: h.group('shipping'), idempotency: { store } });
      for (let n = 0; n < 10; n++) await bus.publish(topic, { n }, { id: `${h.run}-${n}` });
      await billing.waitFor(10, 20_000, 'billing handler runs');
      await shipping.waitFor(10, 20_000, 'shipping handler runs');
      expect(billing.items).toHaveLength(10);
      expect(shipping.items).toHaveLength(10);
    },
  },
  {
    id: 'idempotency.reply-repeated',
    title: 'a duplicate request gets the first reply again without re-running the handler',
    async run(h, expect) {
      const server = await h.bus();
      const client = await h.bus();
      const topic = h.topic('idemreply');
      let calls = 0;
      await server.reply(topic, async () => ({ reservation: ++calls }), { idempotency: { store: await h.store() } });
      const id = `${h.run}-reserve`;
      const first = await client.request(topic, { sku: 'A' }, { id });
      const second = await client.request(topic, { sku: 'A' }, { id });
      expect(first).toEqual({ reservation: 1 });
      expect(second).toEqual({ reservation: 1 });
      expect(calls).toBe(1);
    },
  },
];
