import { z } from 'zod';
import type { ConformanceCase } from '../case.js';
import { Collector, pullOne } from '../harness.js';
import type { Message } from '@switchyard/core';

export const deliveryCases: ConformanceCase[] = [
  {
    id: 'delivery.roundtrip-100',
    title: 'round-trips 100 messages with ids, bodies and headers intact',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('rt');
      const got = new Collector<Message>();
      await bus.subscribe(topic, (m) => got.push(m), { concurrency: 10 });
      const sent = new Map<string, { n: number }>();
      await Promise.all(
        Array.from({ length: 100 }, async (_, n) => {
          const { id } = await bus.publish(topic, { n, nested: { list: [n, 'x'] } }, { headers: { 'x-n': String(n), tenant: 'acme' } });
          sent.set(id, { n });
        }),
      );
      await got.waitFor(100);
      expect(got.items).toHaveLength(100);
      for (const m of got.items) {
        const expected = sent.get(m.id);
        expect(expected, `unexpected id ${m.id}`).toBeDefined();
        expect(m.body).toEqual({ n: expected!.n, nested: { list: [expected!.n, 'x'] } });
        expect(m.headers).toEqual({ 'x-n': String(expected!.n), tenant: 'acme' });
        expect(m.topic).toBe(topic);
        expect(m.attempt).toBe(1);
        expect(m.correlationId).toBe(m.id);
        expect(m.timestamp).toBeInstanceOf(Date);
        expect(Number.isNaN(m.timestamp.getTime())).toBe(false);
      }
      expect(new Set(got.items.map((m) => m.id)).size).toBe(100);
    },
  },
  {
    id: 'delivery.binary',
    title: 'binary body arrives byte-exact as application/octet-stream, unaffected by the caller reusing its buffer',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('bin');
      const got = new Collector<Message>();
      await bus.subscribe(topic, (m) => got.push(m));
      const bytes = new Uint8Array(4096);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) % 256;
      const original = Buffer.from(bytes);
      const publishing = bus.publish(topic, bytes);
      // The caller may reuse its buffer while the publish awaits its confirm: what was sent must not change.
      bytes.fill(0);
      await publishing;
      const [m] = await got.waitFor(1);
      expect(m!.contentType).toBe('application/octet-stream');
      expect(m!.body).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(m!.body as Uint8Array).equals(original)).toBe(true);
    },
  },
  {
    id: 'delivery.empty-and-text',
    title: 'empty bodies and text bodies keep their type',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('empty');
      const got = new Collector<Message>();
      await bus.subscribe(topic, (m) => got.push(m));
      await bus.publish(topic, '', { key: 'k' });
      await bus.publish(topic, new Uint8Array(0), { key: 'k' });
      await bus.publish(topic, 'héllo wörld ✓', { key: 'k' });
      await bus.publish(topic, null, { key: 'k' });
      const items = await got.waitFor(4);
      const texts = items.filter((m) => typeof m.body === 'string').map((m) => m.body);
      expect(texts.sort()).toEqual(['', 'héllo wörld ✓']);
      const bytes = items.filter((m) => m.body instanceof Uint8Array);
      expect(bytes).toHaveLength(1);
      expect((bytes[0]!.body as Uint8Array).byteLength).toBe(0);
      expect(items.filter((m) => m.body === null)).toHaveLength(1);
      expect(items.find((m) => m.body === '')!.contentType).toMatch(/^text\/plain/);
    },
  },
  {
    id: 'delivery.awkward-headers',
    title: 'unicode and awkward header values survive',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('hdr');
      const got = new Collector<Message>();
      await bus.subscribe(topic, (m) => got.push(m));
      const headers = {
        unicode: 'Grüße, 世界 🚀',
        quotes: `"double" and 'single'`,
        separators: 'a=b; c,d: e/f?g&h',
        spaces: '  leading and trailing  ',
        empty: '',
        'Mixed.Case_name-1': 'case kept',
        long: 'x'.repeat(1000),
      };
      await bus.publish(topic, { ok: true }, { headers });
      const [m] = await got.waitFor(1);
      expect(m!.headers).toEqual(headers);
    },
  },
  {
    id: 'delivery.topic-isolation',
    title: 'a subscriber sees only its own topic',
    async run(h, expect) {
      const bus = await h.bus();
      const a = h.topic('iso-a');
      const b = h.topic('iso-b');
      const gotA = new Collector<Message>();
      const gotB = new Collector<Message>();
      await bus.subscribe(a, (m) => gotA.push(m));
      await bus.subscribe(b, (m) => gotB.push(m));
      for (let i = 0; i < 10; i++) await bus.publish(i % 2 ? a : b, { i });
      await gotA.waitFor(5);
      await gotB.waitFor(5);
      await bus.publish(a, { last: true });
      await gotA.waitFor(6);
      expect(gotA.items.every((m) => m.topic === a)).toBe(true);
      expect(gotB.items.map((m) => (m.body as { i: number }).i).sort()).toEqual([0, 2, 4, 6, 8]);
      expect(gotB.items).toHaveLength(5);
    },
  },
  {
    id: 'delivery.concurrent-topics',
    title: '20 topics used concurrently each get exactly their messages',
    async run(h, expect) {
      const bus = await h.bus();
      const topics = Array.from({ length: 20 }, (_, i) => h.topic(`multi${i}`));
      const collectors = topics.map(() => new Collector<Message>());
      await Promise.all(topics.map((t, i) => bus.subscribe(t, (m) => collectors[i]!.push(m), { concurrency: 4 })));
      await Promise.all(topics.flatMap((t, i) => Array.from({ length: 10 }, (_, n) => bus.publish(t, { topic: i, n }))));
      await Promise.all(collectors.map((c) => c.waitFor(10)));
      collectors.forEach((c, i) => {
        expect(c.items).toHaveLength(10);
        expect(c.items.every((m) => (m.body as { topic: number }).topic === i)).toBe(true);
      });
    },
  },
  {
    id: 'delivery.publish-before-subscribe',
    title: 'messages published while a group has no consumer reach it when it subscribes',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('early');
      const group = h.group('early');
      const first = await bus.subscribe(topic, () => undefined, { group });
      await first.close();
      for (let i = 0; i < 5; i++) await bus.publish(topic, { i });
      const got = new Collector<Message>();
      await bus.subscribe(topic, (m) => got.push(m), { group });
      await got.waitFor(5);
      expect(got.items.map((m) => (m.body as { i: number }).i).sort()).toEqual([0, 1, 2, 3, 4]);
    },
  },
  {
    id: 'delivery.correlation',
    title: 'ctx.publish carries the correlation id and sets the causation id',
    async run(h, expect) {
      const bus = await h.bus();
      const first = h.topic('corr1');
      const second = h.topic('corr2');
      const got = new Collector<Message>();
      await bus.subscribe(first, async (m, ctx) => {
        await ctx.publish(second, { from: m.id });
      });
      await bus.subscribe(second, (m) => got.push(m));
      const { id } = await bus.publish(first, { start: true }, { correlationId: 'order-42' });
      const [m] = await got.waitFor(1);
      expect(m!.correlationId).toBe('order-42');
      expect(m!.causationId).toBe(id);
      expect(m!.body).toEqual({ from: id });
    },
  },
  {
    id: 'delivery.delay',
    title: 'a delayed message is not handled before its delay',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('delay');
      const got = new Collector<{ m: Message; at: number }>();
      await bus.subscribe(topic, (m) => got.push({ m, at: Date.now() }));
      const sentAt = Date.now();
      await bus.publish(topic, { late: true }, { delayMs: 1500 });
      await bus.publish(topic, { late: false });
      await got.waitFor(2, 30_000);
      expect((got.items[0]!.m.body as { late: boolean }).late).toBe(false);
      const late = got.items.find((x) => (x.m.body as { late: boolean }).late)!;
      expect(late.at - sentAt).toBeGreaterThanOrEqual(1400);
    },
  },
  {
    id: 'delivery.delay-pull',
    title: 'pull: a delayed message is not handed out before its delay, one published after it is',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('delaypull');
      const group = h.group('delaypull');
      await bus.pull(topic, { group, waitMs: 0 }); // creates the group
      const sentAt = Date.now();
      await bus.publish(topic, { late: true }, { delayMs: 1500 });
      await bus.publish(topic, { late: false });
      const [first] = await pullOne(bus, topic, group);
      expect(first.body).toEqual({ late: false });
      await first.ack();
      const [late] = await pullOne(bus, topic, group);
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1450);
      expect(late.body).toEqual({ late: true });
      expect(late.attempt).toBe(1);
      await late.ack();
    },
  },
  {
    id: 'delivery.contract',
    title: 'a subscription schema parses bodies (defaults applied) before the handler',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('contract');
      const schema = z.object({ orderId: z.string(), qty: z.number().int().positive().default(1) });
      const got = new Collector<Message>();
      await bus.subscribe(topic, (m) => got.push(m), { schema });
      await expect(bus.publish(topic, { orderId: 'o-1' })).resolves.toHaveProperty('id');
      await got.waitFor(1);
      expect(got.items[0]!.body).toEqual({ orderId: 'o-1', qty: 1 });
    },
  },
  {
    id: 'delivery.long-delay-restart',
    title: 'a long emulated delay does not hold back the messages behind it, also after the consumer restarts',
    timeoutMs: 90_000,
    notApplicable: (caps, options) => {
      if (caps.delay === 'native') return { reason: 'transport delays natively: nothing is held in the consumer', check: (expect) => expect(caps.delay).toBe('native') };
      if (options.url === undefined)
        return { reason: 'suite was given createBus, not a URL: it cannot watch the transport', check: (expect) => expect(options.createBus).toBeDefined() };
      return undefined;
    },
    async run(h, expect) {
      const topic = h.topic('longdelay');
      const group = h.group('longdelay');
      const republished = new Collector<string>();
      const first = await h.faultyBus(async (request, next) => {
        await next(request);
        const forGroup = request.message.headers['x-switchyard-for-group'];
        if (request.topic === topic && forGroup !== undefined) republished.push(forGroup);
      });
      const seen = new Collector<string>();
      const sub = await first.subscribe(topic, (m) => seen.push((m.body as { n: string }).n), { group, concurrency: 1 });
      await first.publish(topic, { n: 'in ten minutes' }, { delayMs: 600_000 });
      for (let i = 0; i < 5; i++) await first.publish(topic, { n: `now-${i}` });
      await seen.waitFor(5);
      // Past the short hold the delayed message is republished for the group and the original settled.
      await republished.waitFor(1, 60_000, 'republished delayed copies');
      expect(republished.items[0]).toBe(group);
      await sub.close();
      // A restarted consumer of the group starts after what was handled: nothing is handled twice.
      const second = await h.bus();
      const again = new Collector<string>();
      await second.subscribe(topic, (m) => again.push((m.body as { n: string }).n), { group, concurrency: 1 });
      for (let i = 0; i < 8; i++) await second.publish(topic, { n: `marker-${i}` });
      await again.waitFor(8, 45_000);
      expect(seen.items.sort()).toEqual(['now-0', 'now-1', 'now-2', 'now-3', 'now-4']);
      expect(again.items.filter((n) => !n.startsWith('marker-'))).toEqual([]);
    },
  },
];
