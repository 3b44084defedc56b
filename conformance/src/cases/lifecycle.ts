import { ClosedError, type Message } from '@switchyard/core';
import type { ConformanceCase } from '../case.js';
import { Collector, deferred } from '../harness.js';

export const lifecycleCases: ConformanceCase[] = [
  {
    id: 'lifecycle.close-drains',
    title: 'close waits for in-flight handlers and settles them',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('drain');
      const group = h.group('drain');
      const started = new Collector<number>();
      const release = deferred();
      const finished: number[] = [];
      const sub = await bus.subscribe(
        topic,
        async (m) => {
          const i = (m.body as { i: number }).i;
          started.push(i);
          await release.promise;
          finished.push(i);
        },
        { group, concurrency: 2 },
      );
      await bus.publish(topic, { i: 1 });
      await bus.publish(topic, { i: 2 });
      await started.waitFor(2);
      const closing = sub.close();
      let closed = false;
      void closing.then(() => (closed = true));
      await new Promise((r) => setImmediate(r));
      expect(closed).toBe(false);
      release.resolve();
      await closing;
      expect(finished.sort()).toEqual([1, 2]);
      // Settled (acked): a new consumer of the group gets nothing back.
      const again = new Collector<Message>();
      const next = await bus.subscribe(topic, (m) => again.push(m), { group });
      await bus.publish(topic, { i: 3 });
      await again.waitFor(1);
      await next.close();
      expect(again.items.map((m) => (m.body as { i: number }).i)).toEqual([3]);
    },
  },
  {
    id: 'lifecycle.publish-after-close',
    title: 'publish, subscribe and request after close fail with ClosedError',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('closed');
      await bus.close();
      await expect(bus.publish(topic, {})).rejects.toBeInstanceOf(ClosedError);
      await expect(bus.subscribe(topic, () => undefined)).rejects.toBeInstanceOf(ClosedError);
      await expect(bus.request(topic, {})).rejects.toBeInstanceOf(ClosedError);
      const err = await bus.publish(topic, {}).catch((e: unknown) => e);
      expect((err as ClosedError).code).toBe('ERR_CLOSED');
      expect((await bus.health()).ok).toBe(false);
    },
  },
  {
    id: 'lifecycle.subscribe-close-race',
    title: 'subscribing and closing concurrently loses nothing',
    timeoutMs: 60_000,
    async run(h, expect) {
      const topic = h.topic('race');
      const group = h.group('race');
      const publisher = await h.bus();
      const seen = new Collector<number>();
      const handler = (m: Message) => seen.push((m.body as { i: number }).i);
      // Keep one consumer alive so the group exists throughout.
      const anchor = await h.bus();
      await anchor.subscribe(topic, handler, { group });
      const publishing = (async () => {
        for (let i = 0; i < 200; i++) await publisher.publish(topic, { i });
      })();
      for (let round = 0; round < 5; round++) {
        const bus = await h.bus();
        const subscribing = bus.subscribe(topic, handler, { group, concurrency: 4 }).catch((e: unknown) => e);
        const closing = bus.close();
        const outcome = await subscribing;
        await closing;
        // Either the subscribe won (and close drained it) or close won (ClosedError); never anything else.
        if (outcome instanceof Error) expect(outcome).toBeInstanceOf(ClosedError);
        else expect(outcome).toHaveProperty('group', group);
      }
      await publishing;
      await seen.waitFor(200, 45_000);
      expect(new Set(seen.items).size).toBe(200);
    },
  },
  {
    id: 'lifecycle.health',
    title: 'health reports the transport and ok while open',
    async run(h, expect) {
      const bus = await h.bus();
      const health = await bus.health();
      expect(health.ok).toBe(true);
      expect(typeof health.transport).toBe('string');
      expect(health.transport.length).toBeGreaterThan(0);
      // No credentials: a redacted user:***@host is fine, the password itself never.
      const password = h.options.url ? decodeURIComponent(new URL(h.options.url).password) : '';
      if (password !== '') expect(JSON.stringify(health)).not.toContain(`:${password}@`);
      expect(JSON.stringify(health)).not.toMatch(/password/i);
    },
  },
  {
    id: 'lifecycle.broker-restart',
    title: 'a broker restart mid-stream loses nothing that was confirmed',
    timeoutMs: 600_000,
    exclusive: true,
    notApplicable: (caps, options) =>
      options.restartBroker === undefined
        ? { reason: caps.persistent ? 'no restartBroker hook given' : 'transport is not persistent', check: (expect) => expect(options.restartBroker).toBeUndefined() }
        : undefined,
    async run(h, expect) {
      const total = h.options.volumeMessages ?? 10_000;
      const publisher = await h.bus();
      const consumer = await h.bus();
      const topic = h.topic('restart');
      const group = h.group('restart');
      const received = new Set<number>();
      const progress = new Collector<number>();
      await consumer.subscribe(
        topic,
        (m) => {
          const n = (m.body as { n: number }).n;
          if (!received.has(n)) {
            received.add(n);
            progress.push(n);
          }
        },
        { group, concurrency: 32 },
      );
      const confirmed = new Set<number>();
      let next = 0;
      let failures = 0;
      const worker = async () => {
        for (;;) {
          const n = next++;
          if (n >= total) return;
          // A publish that fails was not confirmed; retry it like an app would.
          for (let tries = 0; ; tries++) {
            try {
              await publisher.publish(topic, { n }, { key: `k${n % 16}` });
              confirmed.add(n);
              break;
            } catch (err) {
              failures++;
              if (tries > 200) throw err;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        }
      };
      const publishing = Promise.all(Array.from({ length: 20 }, worker));
      await progress.waitFor(Math.floor(total / 5), 300_000);
      await h.options.restartBroker!();
      await progress.waitFor(Math.floor(total / 2), 300_000);
      await h.options.restartBroker!();
      await publishing;
      expect(confirmed.size).toBe(total);
      // Every confirmed number arrives (progress counts distinct ones). On a timeout, say which never
      // did and how many publishes were retried, so a loss can be traced to its batch and restart.
      await progress.waitFor(total, 300_000).catch((err: Error) => {
        const missing = [...confirmed].filter((n) => !received.has(n)).sort((a, b) => a - b);
        throw new Error(
          `${err.message} Missing ${missing.length} confirmed: ${missing.slice(0, 100).join(', ')}${missing.length > 100 ? ', …' : ''} (${failures} publishes retried).`,
        );
      });
    },
  },
];
