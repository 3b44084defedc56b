import { z } from 'zod';
import { NonRetryableError, type Message } from '@switchyard/core';
import type { ConformanceCase } from '../case.js';
import { Collector, deferred, drainByPull, pullOne } from '../harness.js';
import type { Harness } from '../harness.js';

const fast = { initialDelayMs: 20, maxDelayMs: 200, factor: 2 };
const X = {
  error: 'x-switchyard-error',
  attempts: 'x-switchyard-attempts',
  originalTopic: 'x-switchyard-original-topic',
  group: 'x-switchyard-group',
  failedAt: 'x-switchyard-failed-at',
};

/** Subscribe to `${topic}.dlq` with the group the failing subscription uses. */
async function watchDeadLetters(h: Harness, topic: string, group: string) {
  const dlqBus = await h.bus();
  const dead = new Collector<Message>();
  await dlqBus.subscribe(`${topic}.dlq`, (m) => dead.push(m), { group });
  return dead;
}

export const settlementCases: ConformanceCase[] = [
  {
    id: 'settlement.redelivery-attempt',
    title: 'a failed message is redelivered with attempt + 1',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('redeliver');
      const attempts = new Collector<number>();
      await bus.subscribe(
        topic,
        (m, ctx) => {
          expect(ctx.attempt).toBe(m.attempt);
          attempts.push(m.attempt);
          if (m.attempt < 2) throw new Error('first try fails');
        },
        { retry: { maxAttempts: 3, ...fast } },
      );
      await bus.publish(topic, { x: 1 });
      await attempts.waitFor(2);
      expect(attempts.items.slice(0, 2)).toEqual([1, 2]);
    },
  },
  {
    id: 'settlement.backoff-then-success',
    title: 'retries back off exponentially, then succeed without dead-lettering',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('backoff');
      const group = h.group('backoff');
      const dead = await watchDeadLetters(h, topic, group);
      const times = new Collector<number>();
      const done = deferred<Message>();
      await bus.subscribe(
        topic,
        (m) => {
          times.push(Date.now());
          if (m.attempt < 4) throw new Error(`fail ${m.attempt}`);
          done.resolve(m);
        },
        { group, retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 5000, factor: 3 } },
      );
      await bus.publish(topic, { x: 1 });
      const m = await done.promise;
      expect(m.attempt).toBe(4);
      const gaps = times.items.slice(1).map((t, i) => t - times.items[i]!);
      // Equal jitter: each gap is between half and all of initial * factor^n.
      expect(gaps[0]).toBeGreaterThanOrEqual(45);
      expect(gaps[1]).toBeGreaterThanOrEqual(145);
      expect(gaps[2]).toBeGreaterThanOrEqual(445);
      expect(dead.items).toHaveLength(0);
    },
  },
  {
    id: 'settlement.max-attempts-dlq',
    title: 'a handler that always throws runs maxAttempts times, lands once in <topic>.dlq with x-switchyard-* headers, and later messages flow',
    timeoutMs: 30_000,
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('poison');
      const group = h.group('poison');
      const dead = await watchDeadLetters(h, topic, group);
      let calls = 0;
      const good = new Collector<Message>();
      const sub = await bus.subscribe(
        topic,
        (m) => {
          if ((m.body as { bad: boolean }).bad) {
            calls++;
            throw new Error('always fails: db unreachable');
          }
          good.push(m);
        },
        { group, retry: { maxAttempts: 3, ...fast } },
      );
      const { id } = await bus.publish(topic, { bad: true }, { headers: { tenant: 't1' }, key: 'k1' });
      const [d] = await dead.waitFor(1);
      expect(calls).toBe(3);
      expect(d!.id).toBe(id);
      expect(d!.body).toEqual({ bad: true });
      expect(d!.headers['tenant']).toBe('t1');
      expect(d!.headers[X.error]).toContain('always fails: db unreachable');
      expect(d!.headers[X.attempts]).toBe('3');
      expect(d!.headers[X.originalTopic]).toBe(topic);
      expect(d!.headers[X.group]).toBe(group);
      expect(Number.isNaN(Date.parse(d!.headers[X.failedAt]!))).toBe(false);
      for (let i = 0; i < 5; i++) await bus.publish(topic, { bad: false, i });
      await good.waitFor(5);
      expect(calls).toBe(3);
      expect(dead.items).toHaveLength(1);
      // Gone from the main topic: nothing left for this group once the subscriber stops.
      await sub.close();
      expect(await drainByPull(bus, topic, group)).toBe(0);
    },
  },
  {
    id: 'settlement.non-retryable',
    title: 'NonRetryableError dead-letters at once',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('nonretry');
      const group = h.group('nonretry');
      const dead = await watchDeadLetters(h, topic, group);
      let calls = 0;
      await bus.subscribe(
        topic,
        () => {
          calls++;
          throw new NonRetryableError('order total is negative');
        },
        { group, retry: { maxAttempts: 5, ...fast } },
      );
      await bus.publish(topic, { total: -1 });
      const [d] = await dead.waitFor(1);
      expect(calls).toBe(1);
      expect(d!.headers[X.attempts]).toBe('1');
      expect(d!.headers[X.error]).toContain('order total is negative');
    },
  },
  {
    id: 'settlement.schema-failure',
    title: 'a body failing the schema dead-letters at once without calling the handler',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('schema');
      const group = h.group('schema');
      const dead = await watchDeadLetters(h, topic, group);
      const handled = new Collector<Message>();
      await bus.subscribe(topic, (m) => handled.push(m), { group, schema: z.object({ orderId: z.string() }), retry: { maxAttempts: 5, ...fast } });
      await bus.publish(topic, { orderId: 42 });
      await bus.publish(topic, { orderId: 'ok' });
      const [d] = await dead.waitFor(1);
      await handled.waitFor(1);
      expect(handled.items.map((m) => m.body)).toEqual([{ orderId: 'ok' }]);
      expect(d!.body).toEqual({ orderId: 42 });
      expect(d!.headers[X.error]).toMatch(/orderId/);
      expect(d!.headers[X.attempts]).toBe('1');
    },
  },
  {
    id: 'settlement.undecodable',
    title: 'bytes that cannot be decoded dead-letter at once',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('undecodable');
      const group = h.group('undecodable');
      const dead = await watchDeadLetters(h, topic, group);
      const handled = new Collector<Message>();
      await bus.subscribe(topic, (m) => handled.push(m), { group });
      const garbage = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x00]);
      await bus.publish(topic, garbage, { contentType: 'application/json' });
      await bus.publish(topic, { fine: true });
      const [d] = await dead.waitFor(1);
      await handled.waitFor(1);
      expect(handled.items).toHaveLength(1);
      expect(Buffer.from(d!.body as Uint8Array).equals(Buffer.from(garbage))).toBe(true);
      expect(d!.headers[X.error]).toMatch(/UTF-8|JSON/);
      expect(d!.contentType).toBe('application/octet-stream');
      expect(d!.headers['x-switchyard-original-content-type']).toBe('application/json');
    },
  },
  {
    id: 'settlement.crash-redelivery',
    title: "a crashed consumer's unsettled messages come back to the group",
    timeoutMs: 60_000,
    async run(h, expect) {
      const topic = h.topic('crash');
      const group = h.group('crash');
      const crashing = await h.bus();
      const holding = new Collector<Message>();
      let sawAbort = false;
      await crashing.subscribe(
        topic,
        (m, ctx) =>
          new Promise<void>((resolve) => {
            holding.push(m);
            ctx.signal.addEventListener('abort', () => {
              sawAbort = true;
              resolve();
            });
          }),
        { group, concurrency: 3 },
      );
      for (let i = 0; i < 3; i++) await crashing.publish(topic, { i });
      await holding.waitFor(3);
      // Closing past the drain timeout abandons in-flight messages, as a crash would.
      await crashing.close({ drainTimeoutMs: 50 });
      expect(sawAbort).toBe(true);
      const survivor = await h.bus();
      const got = new Collector<Message>();
      await survivor.subscribe(topic, (m) => got.push(m), { group, concurrency: 3 });
      await got.waitFor(3, 45_000);
      expect(got.items.map((m) => (m.body as { i: number }).i).sort()).toEqual([0, 1, 2]);
      if (h.capabilities.deliveryCount === 'exact') expect(got.items.every((m) => m.attempt >= 2)).toBe(true);
    },
  },
  {
    id: 'settlement.pull',
    title: 'pull returns messages; ack removes them, nack redelivers with attempt + 1',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('pull');
      const group = h.group('pull');
      await bus.pull(topic, { group, waitMs: 0 }); // creates the group
      for (let i = 0; i < 3; i++) await bus.publish(topic, { i });
      const seen: { i: number; attempt: number }[] = [];
      const deadline = Date.now() + 20_000;
      let nacked = false;
      while (seen.length < 4 && Date.now() < deadline) {
        const batch = await bus.pull(topic, { group, max: 10, waitMs: 2000 });
        for (const m of batch) {
          const i = (m.body as { i: number }).i;
          seen.push({ i, attempt: m.attempt });
          if (i === 1 && !nacked) {
            nacked = true;
            await m.nack();
          } else {
            await m.ack();
          }
        }
      }
      expect(seen.filter((s) => s.i === 1).map((s) => s.attempt)).toEqual([1, 2]);
      expect(
        seen
          .filter((s) => s.i !== 1)
          .map((s) => s.i)
          .sort(),
      ).toEqual([0, 2]);
      expect(await drainByPull(bus, topic, group)).toBe(0);
    },
  },
  {
    id: 'settlement.pull-nack-delay',
    title: 'pull: nack({ delayMs }) keeps the message away for that long, then it comes back with attempt + 1; the others flow meanwhile',
    timeoutMs: 45_000,
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('pullnackdelay');
      const group = h.group('pullnackdelay');
      await bus.pull(topic, { group, waitMs: 0 }); // creates the group
      await bus.publish(topic, { i: 0 });
      const [first] = await pullOne(bus, topic, group);
      expect(first.attempt).toBe(1);
      const delayMs = 1500;
      const nackedAt = Date.now();
      await first.nack({ delayMs });
      // A message published after the nack is handed out while the nacked one waits.
      await bus.publish(topic, { i: 1 });
      const [second] = await pullOne(bus, topic, group);
      expect(second.body).toEqual({ i: 1 });
      await second.ack();
      const [again] = await pullOne(bus, topic, group);
      expect(Date.now() - nackedAt).toBeGreaterThanOrEqual(delayMs - 50);
      expect(again.body).toEqual({ i: 0 });
      expect(again.id).toBe(first.id);
      expect(again.attempt).toBe(2);
      await again.ack();
      expect(await drainByPull(bus, topic, group)).toBe(0);
    },
  },
  {
    id: 'settlement.pull-poison',
    title: 'pull dead-letters a message nacked on its last attempt',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('pullpoison');
      const group = h.group('pullpoison');
      await bus.pull(topic, { group, waitMs: 0, maxAttempts: 2 });
      await bus.publish(topic, { poison: true });
      const attempts: number[] = [];
      const deadline = Date.now() + 20_000;
      while (attempts.length < 2 && Date.now() < deadline) {
        for (const m of await bus.pull(topic, { group, waitMs: 2000, maxAttempts: 2 })) {
          attempts.push(m.attempt);
          await m.nack({ reason: 'cannot process' });
        }
      }
      expect(attempts).toEqual([1, 2]);
      const dead = await bus.pull(`${topic}.dlq`, { group, waitMs: 5000 });
      expect(dead).toHaveLength(1);
      expect(dead[0]!.headers[X.error]).toBe('cannot process');
      expect(dead[0]!.headers[X.attempts]).toBe('2');
      await dead[0]!.ack();
      expect(await drainByPull(bus, topic, group)).toBe(0);
    },
  },
  {
    id: 'settlement.dead-letter-refused',
    title: 'a dead-letter publish the broker refuses is retried with backoff; the handler runs maxAttempts times and later messages flow',
    timeoutMs: 60_000,
    notApplicable: (_caps, options) =>
      options.url === undefined
        ? { reason: 'suite was given createBus, not a URL: it cannot wrap the transport to refuse a publish', check: (expect) => expect(options.createBus).toBeDefined() }
        : undefined,
    async run(h, expect) {
      const topic = h.topic('dlqrefused');
      const group = h.group('dlqrefused');
      let refusals = 3;
      const dlqPublishes = new Collector<number>();
      const bus = await h.faultyBus(async (request, next) => {
        if (request.topic === `${topic}.dlq`) {
          dlqPublishes.push(Date.now());
          if (refusals-- > 0) throw new Error('injected: broker refused the dead-letter publish');
        }
        await next(request);
      });
      const dead = await watchDeadLetters(h, topic, group);
      let poisonCalls = 0;
      const good = new Collector<number>();
      await bus.subscribe(
        topic,
        (m) => {
          const body = m.body as { poison?: boolean; i?: number };
          if (body.poison) {
            poisonCalls++;
            throw new Error('always fails');
          }
          good.push(body.i!);
        },
        { group, concurrency: 1, retry: { maxAttempts: 3, ...fast } },
      );
      await bus.publish(topic, { poison: true }, { key: 'poison' });
      // Wait until the dead-letter publish is being refused, then show the rest still flows.
      await dlqPublishes.waitFor(1);
      for (let i = 0; i < 5; i++) await bus.publish(topic, { i });
      await good.waitFor(5);
      const [d] = await dead.waitFor(1, 45_000);
      expect(poisonCalls).toBe(3);
      expect(d!.headers[X.attempts]).toBe('3');
      expect(dlqPublishes.items).toHaveLength(4);
      expect(dead.items).toHaveLength(1);
    },
  },
  {
    id: 'settlement.handler-timeout',
    title: 'a hung handler is aborted after handlerTimeoutMs, retried, dead-lettered, and does not hold back the messages behind it',
    timeoutMs: 60_000,
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('hung');
      const group = h.group('hung');
      const dead = await watchDeadLetters(h, topic, group);
      const aborted = new Collector<number>();
      const good = new Collector<number>();
      await bus.subscribe(
        topic,
        (m, ctx) => {
          const body = m.body as { hang?: boolean; i?: number };
          if (!body.hang) {
            good.push(body.i!);
            return;
          }
          ctx.signal.addEventListener('abort', () => aborted.push(m.attempt));
          return new Promise<void>(() => {}); // never settles, ignores the signal
        },
        { group, concurrency: 1, handlerTimeoutMs: 300, retry: { maxAttempts: 2, ...fast } },
      );
      await bus.publish(topic, { hang: true });
      for (let i = 0; i < 5; i++) await bus.publish(topic, { i });
      await good.waitFor(5, 45_000);
      const [d] = await dead.waitFor(1, 45_000);
      expect(aborted.items).toEqual([1, 2]);
      expect(d!.headers[X.error]).toMatch(/did not finish within 300 ms/);
      expect(d!.headers[X.attempts]).toBe('2');
    },
  },
  {
    id: 'settlement.slow-handler-lease',
    title: 'a handler slower than the broker lease runs once: core extends the lease, nothing is redelivered',
    timeoutMs: 60_000,
    notApplicable: (caps) =>
      caps.leaseMs === undefined ? { reason: 'transport holds deliveries until settled (no lease to extend)', check: (expect) => expect(caps.leaseMs).toBeUndefined() } : undefined,
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('slowlease');
      const group = h.group('slowlease');
      const leaseMs = bus.capabilities.leaseMs!;
      const runs = new Collector<{ n: string; attempt: number }>();
      const done = new Collector<string>();
      await bus.subscribe(
        topic,
        async (m) => {
          const { n } = m.body as { n: string };
          runs.push({ n, attempt: m.attempt });
          // Slow work: three leases long.
          if (n === 'slow') await new Promise((resolve) => setTimeout(resolve, leaseMs * 3));
          done.push(n);
        },
        { group, concurrency: 2 },
      );
      await bus.publish(topic, { n: 'slow' });
      await done.waitFor(1, 45_000);
      expect(done.items).toEqual(['slow']);
      // A marker published after it arrives after any redelivery of the slow one would have.
      await bus.publish(topic, { n: 'marker' });
      await done.waitFor(2, 45_000);
      expect(runs.items).toEqual([
        { n: 'slow', attempt: 1 },
        { n: 'marker', attempt: 1 },
      ]);
    },
  },
  {
    id: 'settlement.concurrency-limit',
    title: 'no more than `concurrency` handlers run at once, even when the transport hands over more',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('conc');
      let running = 0;
      let peak = 0;
      const done = new Collector<number>();
      await bus.subscribe(
        topic,
        async (m) => {
          running++;
          peak = Math.max(peak, running);
          // Yield a few times so overlapping handlers would be seen.
          for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
          running--;
          done.push((m.body as { i: number }).i);
        },
        { concurrency: 3 },
      );
      await Promise.all(Array.from({ length: 30 }, (_, i) => bus.publish(topic, { i })));
      await done.waitFor(30);
      expect(peak).toBeLessThanOrEqual(3);
      expect(done.items.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    },
  },
];
