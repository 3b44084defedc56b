import type { ConformanceCase } from '../case.js';
import { Collector, deferred } from '../harness.js';
import { ConfigurationError, type Message } from '@switchyard/core';

const bodyN = (m: Message) => (m.body as { n: number }).n;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** 1000 messages over 16 keys: keys 0-7 get 63, keys 8-15 get 62. */
const perKey = (key: string) => (Number(key.slice(4)) < 1000 % 16 ? Math.ceil(1000 / 16) : Math.floor(1000 / 16));

export const groupCases: ConformanceCase[] = [
  {
    id: 'groups.conflicting-policy',
    title:
      'a second consumer of a group with other maxAttempts or dead-letter topic is a ConfigurationError; the same policy joins; after the first leaves, a new policy is accepted',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('policy');
      const group = h.group('policy');
      const got = new Collector<Message>();
      const first = await bus.subscribe(topic, (m) => got.push(m), { group, retry: { maxAttempts: 3 } });
      await expect(bus.subscribe(topic, () => undefined, { group, retry: { maxAttempts: 4 } })).rejects.toBeInstanceOf(ConfigurationError);
      await expect(bus.subscribe(topic, () => undefined, { group, retry: { maxAttempts: 3 }, deadLetter: `${topic}.elsewhere` })).rejects.toBeInstanceOf(ConfigurationError);
      // A refused subscription left nothing behind: the group still works as before.
      const same = await bus.subscribe(topic, (m) => got.push(m), { group, retry: { maxAttempts: 3, initialDelayMs: 50 } });
      await bus.publish(topic, { n: 1 });
      await got.waitFor(1);
      await same.close();
      await first.close();
      const changed = await bus.subscribe(topic, (m) => got.push(m), { group, retry: { maxAttempts: 4 } });
      await bus.publish(topic, { n: 2 });
      await got.waitFor(2);
      expect(got.items.map(bodyN)).toEqual([1, 2]);
      await changed.close();
    },
  },
  {
    id: 'groups.competing',
    title: 'competing consumers in one group split the work with nothing lost',
    notApplicable: (caps) => (caps.consumerGroups ? undefined : { reason: 'transport has no consumer groups', check: (expect) => expect(caps.consumerGroups).toBe(false) }),
    async run(h, expect) {
      const a = await h.bus();
      const b = await h.bus();
      const topic = h.topic('compete');
      const group = h.group('workers');
      const all = new Collector<{ who: string; m: Message }>();
      // Each consumer holds its first message until both have one, so neither can take everything.
      const started = { a: deferred(), b: deferred() };
      const both = Promise.all([started.a.promise, started.b.promise]);
      const handler = (who: 'a' | 'b') => async (m: Message) => {
        started[who].resolve();
        await both;
        all.push({ who, m });
      };
      await a.subscribe(topic, handler('a'), { group, concurrency: 2 });
      await b.subscribe(topic, handler('b'), { group, concurrency: 2 });
      await Promise.all(range(200).map((n) => a.publish(topic, { n })));
      await all.waitFor(200);
      expect(all.items.map((x) => bodyN(x.m)).sort((x, y) => x - y)).toEqual(range(200));
      const byA = all.items.filter((x) => x.who === 'a').length;
      expect(byA).toBeGreaterThan(0);
      expect(byA).toBeLessThan(200);
    },
  },
  {
    id: 'groups.fan-out',
    title: 'two groups each get every message',
    notApplicable: (caps) => (caps.fanOut ? undefined : { reason: 'transport has no fan-out', check: (expect) => expect(caps.fanOut).toBe(false) }),
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('fanout');
      const one = new Collector<Message>();
      const two = new Collector<Message>();
      await bus.subscribe(topic, (m) => one.push(m), { group: h.group('one') });
      await bus.subscribe(topic, (m) => two.push(m), { group: h.group('two') });
      await Promise.all(range(50).map((n) => bus.publish(topic, { n })));
      await one.waitFor(50);
      await two.waitFor(50);
      expect(one.items.map(bodyN).sort((x, y) => x - y)).toEqual(range(50));
      expect(two.items.map(bodyN).sort((x, y) => x - y)).toEqual(range(50));
    },
  },
  {
    id: 'groups.consumer-leaves',
    title: 'a consumer leaving mid-stream loses nothing',
    timeoutMs: 60_000,
    async run(h, expect) {
      const a = await h.bus();
      const b = await h.bus();
      const topic = h.topic('leave');
      const group = h.group('leave');
      const seen = new Collector<Message>();
      const subA = await a.subscribe(topic, async (m) => seen.push(m), { group, concurrency: 4 });
      await b.subscribe(topic, async (m) => seen.push(m), { group, concurrency: 4 });
      const publishing = Promise.all(range(300).map((n) => a.publish(topic, { n })));
      await seen.waitFor(50);
      await subA.close();
      await publishing;
      await seen.waitFor(300, 45_000);
      const unique = new Set(seen.items.map(bodyN));
      expect(unique.size).toBe(300);
    },
  },
  {
    id: 'ordering.per-key',
    title: '1000 messages over 16 keys keep per-key order',
    timeoutMs: 90_000,
    notApplicable: (caps) => (caps.ordering === 'perKey' ? undefined : { reason: 'transport does not order per key', check: (expect) => expect(caps.ordering).toBe('none') }),
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('order');
      const got = new Collector<Message>();
      await bus.subscribe(
        topic,
        async (m) => {
          // Uneven handler times tempt an unordered consumer to overtake.
          if ((m.body as { seq: number }).seq % 7 === 0) await new Promise((r) => setImmediate(r));
          got.push(m);
        },
        { concurrency: 8 },
      );
      const keys = range(16).map((k) => `key-${k}`);
      // Publish each key's messages in sequence (order is defined by confirmed publish order), keys in parallel.
      await Promise.all(
        keys.map(async (key) => {
          for (let seq = 0; seq < perKey(key); seq++) await bus.publish(topic, { key, seq }, { key });
        }),
      );
      await got.waitFor(1000, 60_000);
      for (const key of keys) {
        const seqs = got.items.filter((m) => m.key === key).map((m) => (m.body as { seq: number }).seq);
        expect(seqs, `order of ${key}`).toEqual(range(perKey(key)));
      }
    },
  },
];
