import { describe, expect, it } from 'vitest';
import { ClosedError, NonRetryableError, type Message } from '../src/index.js';
import type { Transport } from '../src/index.js';
import { busWithout, memoryBus, topic, waitFor, closeAfterEach } from './helpers.js';

const track = closeAfterEach(1000);

describe.each([
  ['broker nack (memory)', () => memoryBus()],
  ['in-place retry (transport without nack)', () => busWithout({ nack: 'none', delay: 'emulated' })],
])('settlement via %s', (_label, makeBus) => {
  it('calls an always-throwing handler exactly maxAttempts times, dead-letters it once with x-switchyard-* headers, and keeps later messages flowing', async () => {
    const bus = track(await makeBus());
    const t = topic('poison');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    let calls = 0;
    const attempts: number[] = [];
    const good: unknown[] = [];
    await bus.subscribe(
      t,
      (m) => {
        if ((m.body as { poison?: boolean }).poison) {
          calls++;
          attempts.push(m.attempt);
          throw new Error('cannot charge card');
        }
        good.push(m.body);
      },
      { retry: { maxAttempts: 4, initialDelayMs: 5, maxDelayMs: 20, factor: 2 } },
    );
    const { id } = await bus.publish(t, { poison: true }, { headers: { tenant: 'acme' } });
    await waitFor(dead, 1);
    for (let i = 0; i < 3; i++) await bus.publish(t, { i });
    await waitFor(good, 3);
    expect(calls).toBe(4);
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(dead).toHaveLength(1);
    const d = dead[0]!;
    expect(d.id).toBe(id);
    expect(d.body).toEqual({ poison: true });
    expect(d.headers).toMatchObject({
      tenant: 'acme',
      'x-switchyard-error': 'cannot charge card',
      'x-switchyard-attempts': '4',
      'x-switchyard-original-topic': t,
      'x-switchyard-group': 'svc',
    });
    expect(Date.parse(d.headers['x-switchyard-failed-at']!)).not.toBeNaN();
    expect(good).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(calls).toBe(4);
  });

  it('dead-letters NonRetryableError on the first attempt', async () => {
    const bus = track(await makeBus());
    const t = topic('nonretry');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    let calls = 0;
    await bus.subscribe(t, () => {
      calls++;
      throw new NonRetryableError('bad data');
    });
    await bus.publish(t, {});
    await waitFor(dead, 1);
    expect(calls).toBe(1);
    expect(dead[0]!.headers['x-switchyard-attempts']).toBe('1');
  });

  it('retry: false dead-letters after one attempt; deadLetter: false drops after the last one', async () => {
    const bus = track(await makeBus());
    const t = topic('noretry');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    const calls: number[] = [];
    await bus.subscribe(
      t,
      (m) => {
        calls.push(m.attempt);
        throw new Error('no');
      },
      { retry: false },
    );
    await bus.publish(t, {});
    await waitFor(dead, 1);
    expect(calls).toEqual([1]);

    const dropped = topic('drop');
    const dropCalls: number[] = [];
    const after: unknown[] = [];
    await bus.subscribe(
      dropped,
      (m) => {
        if ((m.body as { fail?: boolean }).fail) {
          dropCalls.push(m.attempt);
          throw new Error('no');
        }
        after.push(m.body);
      },
      { retry: { maxAttempts: 2, initialDelayMs: 1 }, deadLetter: false },
    );
    await bus.publish(dropped, { fail: true });
    await bus.publish(dropped, { ok: 1 });
    await waitFor(after, 1);
    await waitFor(dropCalls, 2);
    expect(dropCalls).toEqual([1, 2]);
  });
});

describe('delivery semantics of the memory transport', () => {
  it('never delivers inside publish(): the handler runs on a later tick', async () => {
    const bus = track(await memoryBus());
    const t = topic('async');
    const order: string[] = [];
    await bus.subscribe(t, () => void order.push('handler'));
    const publishing = bus.publish(t, {});
    order.push('after publish call');
    await publishing;
    order.push('publish resolved');
    await waitFor(order, 3);
    expect(order.slice(0, 2)).toEqual(['after publish call', 'publish resolved']);
  });

  it('holds an emulated-delay message until due when the transport cannot delay natively', async () => {
    const bus = track(await busWithout({ delay: 'emulated' }));
    const t = topic('delay');
    const at: number[] = [];
    await bus.subscribe(t, () => void at.push(Date.now()));
    const sent = Date.now();
    await bus.publish(t, {}, { delayMs: 300 });
    await waitFor(at, 1);
    expect(at[0]! - sent).toBeGreaterThanOrEqual(290);
  });

  it('abandons a message waiting out an in-place retry when the subscription closes, so another consumer gets it', async () => {
    const broker = `shared-${process.pid}`;
    const a = track(await busWithout({ nack: 'none' }, broker));
    const b = track(await busWithout({ nack: 'none' }, broker));
    const t = topic('abandon');
    const first: number[] = [];
    const sub = await a.subscribe(
      t,
      (m) => {
        first.push(m.attempt);
        throw new Error('fail, retry later');
      },
      { group: 'g', retry: { maxAttempts: 5, initialDelayMs: 60_000, maxDelayMs: 60_000 } },
    );
    await a.publish(t, { x: 1 });
    await waitFor(first, 1);
    await sub.close(); // must not wait out the 60 s backoff
    const second: Message[] = [];
    await b.subscribe(t, (m) => void second.push(m), { group: 'g' });
    await waitFor(second, 1);
    expect(second[0]!.body).toEqual({ x: 1 });
    expect(second[0]!.attempt).toBe(2);
  });

  it('runs at most `concurrency` handlers at once', async () => {
    const bus = track(await memoryBus());
    const t = topic('conc');
    let active = 0;
    let peak = 0;
    const done: number[] = [];
    await bus.subscribe(
      t,
      async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        done.push(1);
      },
      { concurrency: 3 },
    );
    await Promise.all(Array.from({ length: 20 }, (_, i) => bus.publish(t, { i })));
    await waitFor(done, 20);
    expect(peak).toBe(3);
  });
});

describe('closing a bus', () => {
  it('does not wait for a pending pull or an unanswered request; the request gets ClosedError', async () => {
    const bus = await memoryBus();
    const pulling = bus.pull(topic('idle'), { waitMs: 60_000 });
    await bus.reply(topic('never-answers-other'), () => 'x');
    const nobody = topic('nobody');
    await bus.pull(nobody, { waitMs: 0 }); // a group exists for it, but nobody answers
    const unanswered = bus.request(nobody, {}, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    await bus.close();
    await expect(pulling).resolves.toEqual([]);
    expect(await unanswered).toBeInstanceOf(ClosedError);
  });
});

describe('request aborted before the publish is confirmed', () => {
  it('rejects the request without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // A transport whose publish confirm arrives late, as a real broker's can.
      let releaseConfirm!: () => void;
      const confirmGate = new Promise<void>((r) => (releaseConfirm = r));
      // noResponders off: the request must reach publish() although nobody serves the topic.
      const bus = await busWithout({ noResponders: false }, undefined, {
        publish: async function (this: Transport, request) {
          await Object.getPrototypeOf(this).publish.call(this, request);
          await confirmGate;
        },
      });
      const controller = new AbortController();
      const pending = bus.request(topic('slow-confirm'), {}, { signal: controller.signal, timeoutMs: 10_000 });
      await new Promise((r) => setImmediate(r));
      controller.abort(new Error('gave up'));
      await new Promise((r) => setImmediate(r));
      releaseConfirm();
      await expect(pending).rejects.toThrow('gave up');
      await new Promise((r) => setImmediate(r)); // Node reports unhandled rejections after the microtask queue drains
      expect(unhandled).toEqual([]);
      await bus.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('pull', () => {
  it('rejects a bad nack delay without stranding the message, and refuses to settle twice', async () => {
    const bus = await memoryBus();
    const t = topic('pullnack');
    await bus.pull(t, { waitMs: 0 });
    await bus.publish(t, { x: 1 });
    const [m] = await bus.pull(t, { waitMs: 1000 });
    await expect(m!.nack({ delayMs: -1 })).rejects.toThrow(/delayMs must be an integer/);
    await m!.nack();
    await expect(m!.ack()).rejects.toThrow(/already acked or nacked/);
    const [again] = await bus.pull(t, { waitMs: 1000 });
    expect(again!.attempt).toBe(2);
    await again!.ack();
    await bus.close();
  });
});
