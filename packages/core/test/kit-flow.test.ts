/** Pure tests of the adapter kit's per-key gate, change signal, delay hold, promise cache and publish micro-batcher (no broker, no bus). */
import { describe, expect, it } from 'vitest';
import { Attr, Batcher, ChangeSignal, delayHoldMs, EMULATED_DELAY_HOLD_MS, InternalHeader, KeyedBatcher, KeyGate, outlasts, PromiseCache, remembered } from '../src/spi-entry.js';

describe('KeyGate (one message per key in flight)', () => {
  it('holds a key while it is in flight; keyless messages never wait', () => {
    const gate = new KeyGate();
    expect(gate.isBusy('a')).toBe(false);
    gate.take('a');
    expect(gate.isBusy('a')).toBe(true);
    expect(gate.isBusy('b')).toBe(false);
    gate.take(undefined);
    expect(gate.isBusy(undefined)).toBe(false);
    expect(gate.size).toBe(1);
    gate.release('a');
    expect(gate.isBusy('a')).toBe(false);
    expect(gate.size).toBe(0);
  });

  it('counts a key taken twice and frees it only after both are released; extra releases do no harm', () => {
    const gate = new KeyGate();
    gate.take('k');
    gate.take('k');
    gate.release('k');
    expect(gate.isBusy('k')).toBe(true);
    gate.release('k');
    expect(gate.isBusy('k')).toBe(false);
    gate.release('k');
    gate.release(undefined);
    expect(gate.isBusy('k')).toBe(false);
    gate.take('k');
    expect(gate.isBusy('k')).toBe(true);
  });
});

describe('ChangeSignal (wake loops waiting for a change)', () => {
  it('notify wakes every current waiter at once; later waiters wait for the next notify', async () => {
    const signal = new ChangeSignal();
    const woke: string[] = [];
    const a = signal.wait(60_000).then(() => woke.push('a'));
    const b = signal.wait(60_000).then(() => woke.push('b'));
    expect(signal.waiting).toBe(2);
    signal.notify();
    await Promise.all([a, b]);
    expect(woke.sort()).toEqual(['a', 'b']);
    expect(signal.waiting).toBe(0);
    let late = false;
    const c = signal.wait(60_000).then(() => {
      late = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(late).toBe(false);
    signal.notify();
    await c;
    expect(late).toBe(true);
  });

  it('waits without an abort signal end at the earliest time any of them asked for, and a notify ends them all', async () => {
    const signal = new ChangeSignal();
    const started = Date.now();
    const long = signal.wait(60_000);
    await signal.wait(20);
    await long; // woken with the short one: one shared timer
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(signal.waiting).toBe(0);
    const again = [signal.wait(60_000), signal.wait(60_000)];
    expect(signal.waiting).toBe(2);
    signal.notify();
    await Promise.all(again);
    expect(signal.waiting).toBe(0);
  });

  it('a wait ends after its time or when its abort signal fires, and leaves no waiter behind', async () => {
    const signal = new ChangeSignal();
    const started = Date.now();
    await signal.wait(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    const controller = new AbortController();
    const aborted = signal.wait(60_000, controller.signal);
    controller.abort();
    await aborted;
    await signal.wait(60_000, controller.signal); // already aborted: at once
    expect(signal.waiting).toBe(0);
  });
});

describe('outlasts (a time limit on work)', () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('is false when the work resolves first, and leaves no timer running', async () => {
    const before = timers();
    expect(await outlasts(Promise.resolve('done'), 600_000)).toBe(false);
    expect(timers()).toBe(before);
  });

  it('is true once the time is up while the work goes on, and rejects with the work if it fails first', async () => {
    expect(await outlasts(new Promise(() => undefined), 10)).toBe(true);
    await expect(outlasts(Promise.reject(new Error('broken')), 600_000)).rejects.toThrow('broken');
  });
});

/** A send that records batches and completes when the test says so. */
function manualSend() {
  const batches: string[][] = [];
  const finish: ((err?: Error) => void)[] = [];
  const send = (items: string[]) =>
    new Promise<void>((resolve, reject) => {
      batches.push(items);
      finish.push((err) => (err ? reject(err) : resolve()));
    });
  return { batches, finish, send };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher (publish micro-batching)', () => {
  it('sends what arrives during a send together in the next batch, in arrival order, one batch at a time', async () => {
    const { batches, finish, send } = manualSend();
    const batcher = new Batcher<string>({ maxBatchBytes: 1000, send });
    const done: string[] = [];
    const first = batcher.add('a', 10).then(() => done.push('a'));
    const rest = ['b', 'c', 'd'].map((x) => batcher.add(x, 10).then(() => done.push(x)));
    await tick();
    expect(batches).toEqual([['a']]);
    expect(batcher.pending).toBe(3);
    finish[0]!();
    await first;
    await tick();
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
    expect(done).toEqual(['a']);
    finish[1]!();
    await Promise.all(rest);
    expect(done).toEqual(['a', 'b', 'c', 'd']);
  });

  it('splits batches at maxBatchBytes and maxBatchItems; an item larger than the limit goes alone', async () => {
    const sent: string[][] = [];
    const batcher = new Batcher<string>({ maxBatchBytes: 100, maxBatchItems: 3, send: async (items) => void sent.push(items) });
    const sizes: [string, number][] = [
      ['x', 1],
      ['a', 40],
      ['b', 40],
      ['c', 40],
      ['big', 500],
      ['d', 1],
      ['e', 1],
      ['f', 1],
      ['g', 1],
    ];
    await Promise.all(sizes.map(([item, bytes]) => batcher.add(item, bytes)));
    expect(sent).toEqual([['x'], ['a', 'b'], ['c'], ['big'], ['d', 'e', 'f'], ['g']]);
  });

  it('fails exactly the items of a failed batch with its error; later batches still go', async () => {
    const { batches, finish, send } = manualSend();
    const batcher = new Batcher<string>({ maxBatchBytes: 1000, send });
    const a = batcher.add('a', 1);
    const b = batcher.add('b', 1);
    const c = batcher.add('c', 1);
    await tick();
    finish[0]!(new Error('broker said no'));
    await expect(a).rejects.toThrow('broker said no');
    await tick();
    expect(batches[1]).toEqual(['b', 'c']);
    finish[1]!();
    await expect(Promise.all([b, c])).resolves.toBeDefined();
    // Idle again: the next add starts a new batch at once.
    const d = batcher.add('d', 1);
    await tick();
    expect(batches[2]).toEqual(['d']);
    finish[2]!();
    await d;
  });

  it("gather 'tick': callers in a publish loop fill each batch, as explicit batches of that size would", async () => {
    const batchSizes = (gather: 'now' | 'tick') => {
      const sizes: number[] = [];
      const batcher = new Batcher<number>({ maxBatchBytes: 1000, gather, send: async (items) => void sizes.push(items.length) });
      // 4 callers, each publishing its next item once the previous one was confirmed (through a
      // few awaits, as a caller's publish path has).
      const caller = async () => {
        for (let i = 0; i < 3; i++) {
          await Promise.resolve();
          await batcher.add(i, 1);
        }
      };
      return Promise.all([caller(), caller(), caller(), caller()]).then(() => sizes);
    };
    expect(await batchSizes('tick')).toEqual([4, 4, 4]);
    // Without gathering, a batch goes as soon as the previous one is done: smaller ones, more of them.
    expect((await batchSizes('now')).length).toBeGreaterThan(3);
  });

  it("gather 'microtasks': callers in a publish loop fill each batch, and it goes before the turn's macrotasks", async () => {
    const events: string[] = [];
    const batcher = new Batcher<number>({ maxBatchBytes: 1000, gather: 'microtasks', send: async (items) => void events.push(`send ${items.join(',')}`) });
    // Callers whose next item follows their confirmation through a few awaits, as a publish path's does.
    const caller = async (n: number) => {
      for (let i = 0; i < 3; i++) {
        await Promise.resolve();
        await batcher.add(n + 10 * i, 1);
      }
    };
    // Scheduled before any batch: with gather 'tick' it would run before the second one.
    setImmediate(() => events.push('macrotask'));
    await Promise.all([caller(1), caller(2), caller(3)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['send 1,2,3', 'send 11,12,13', 'send 21,22,23', 'macrotask']);
  });

  it("gather 'tick': an idle batcher sends at once what this turn added, without waiting out a macrotask", async () => {
    const sent: number[][] = [];
    const batcher = new Batcher<number>({ maxBatchBytes: 1000, gather: 'tick', send: async (items) => void sent.push(items) });
    // A lone request or reply, and a burst issued in one synchronous turn (one batch).
    const lone = batcher.add(1, 1);
    for (let i = 0; i < 3; i++) await Promise.resolve();
    expect(sent).toEqual([[1]]);
    await lone;
    await new Promise((resolve) => setImmediate(resolve)); // idle again (after a batch it waits a macrotask for callers' next items)
    const burst = [2, 3, 4].map((n) => batcher.add(n, 1));
    for (let i = 0; i < 3; i++) await Promise.resolve();
    expect(sent).toEqual([[1], [2, 3, 4]]);
    await Promise.all(burst);
  });

  it('a send that throws synchronously fails its batch only', async () => {
    let calls = 0;
    const batcher = new Batcher<number>({
      maxBatchBytes: 10,
      send: (items) => {
        calls++;
        if (items.includes(1)) throw new Error('sync');
        return Promise.resolve();
      },
    });
    await expect(batcher.add(1, 10)).rejects.toThrow('sync');
    await expect(batcher.add(2, 10)).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });
});

describe('delayHoldMs (emulated delay: how long a transport holds a message)', () => {
  const now = Date.parse('2030-01-01T00:00:00.000Z');
  const message = (headers: Record<string, string>) => ({ body: new Uint8Array(), headers });
  const at = (ms: number) => new Date(now + ms).toISOString();

  it('holds a not-yet-due message until due, at most EMULATED_DELAY_HOLD_MS', () => {
    expect(delayHoldMs(message({ [Attr.notBefore]: at(1200) }), 'g', now)).toBe(1200);
    expect(delayHoldMs(message({ [Attr.notBefore]: at(3_600_000) }), 'g', now)).toBe(EMULATED_DELAY_HOLD_MS);
  });

  it('hands over at once what is due, undelayed, unreadable, or a copy for another group', () => {
    expect(delayHoldMs(message({ [Attr.notBefore]: at(-5) }), 'g', now)).toBe(0);
    expect(delayHoldMs(message({}), 'g', now)).toBe(0);
    expect(delayHoldMs(message({ [Attr.notBefore]: 'soon' }), 'g', now)).toBe(0);
    expect(delayHoldMs(message({ [Attr.notBefore]: at(1000), [InternalHeader.forGroup]: 'other' }), 'g', now)).toBe(0);
    expect(delayHoldMs(message({ [Attr.notBefore]: at(1000), [InternalHeader.forGroup]: 'g' }), 'g', now)).toBe(1000);
  });
});

describe('PromiseCache (create once, forget failures)', () => {
  it('shares one attempt per key between concurrent callers and keeps a success', async () => {
    const cache = new PromiseCache<string, number>();
    let calls = 0;
    const create = async (key: string) => {
      calls++;
      await new Promise((resolve) => setImmediate(resolve));
      return key.length;
    };
    expect(await Promise.all([cache.get('abc', create), cache.get('abc', create), cache.get('de', create)])).toEqual([3, 3, 2]);
    expect(await cache.get('abc', create)).toBe(3);
    expect(calls).toBe(2);
  });

  it('forgets a failed attempt (also a synchronous throw), so the next call tries again', async () => {
    const cache = new PromiseCache<string, string>();
    await expect(cache.get('k', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(
      cache.get('k', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(cache.get('k', async () => 'up')).resolves.toBe('up');
  });

  it('delete and clear hand back what was kept and make the next get create again', async () => {
    const cache = new PromiseCache<string, string>();
    await cache.get('a', async () => 'first');
    await expect(cache.delete('a')).resolves.toBe('first');
    expect(cache.delete('a')).toBeUndefined();
    expect(await cache.get('a', async () => 'second')).toBe('second');
    const pending = cache.get('b', () => new Promise((resolve) => setImmediate(() => resolve('late'))));
    const kept = cache.clear();
    expect(kept).toHaveLength(2);
    expect(await Promise.all(kept)).toEqual(['second', 'late']);
    await pending;
    expect(await cache.get('b', async () => 'again')).toBe('again');
  });

  it('a failure of an attempt already replaced does not evict its replacement', async () => {
    const cache = new PromiseCache<string, string>();
    let fail!: (err: Error) => void;
    const first = cache.get('k', () => new Promise<string>((_, reject) => (fail = reject)));
    cache.delete('k');
    const second = cache.get('k', async () => 'replacement');
    fail(new Error('old attempt'));
    await expect(first).rejects.toThrow('old attempt');
    expect(await second).toBe('replacement');
    expect(await cache.get('k', async () => 'not called')).toBe('replacement');
  });
});

describe('KeyedBatcher (one Batcher per destination)', () => {
  it("batches each key on its own, in arrival order, and a failed request fails only its key's items", async () => {
    const sent: [string, string[]][] = [];
    const batcher = new KeyedBatcher<string>({
      maxBatchBytes: 1000,
      maxBatchItems: 10,
      send: async (key, items) => {
        sent.push([key, items]);
        if (key === 'bad') throw new Error(`refused ${key}`);
      },
    });
    const results = await Promise.allSettled([batcher.add('a', 'a1', 1), batcher.add('bad', 'x', 1), batcher.add('a', 'a2', 1), batcher.add('b', 'b1', 1)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(sent).toEqual([
      ['a', ['a1', 'a2']],
      ['bad', ['x']],
      ['b', ['b1']],
    ]);
    // An idle key starts afresh: its next item goes in a request of its own.
    await batcher.add('a', 'a3', 1);
    expect(sent.at(-1)).toEqual(['a', ['a3']]);
  });
});

describe('remembered (a name translation computed once per input)', () => {
  it('translates each input once, and starts over past its limit (inputs may be foreign)', () => {
    const calls: string[] = [];
    const upper = remembered((name) => {
      calls.push(name);
      return name.toUpperCase();
    }, 2);
    expect([upper('a'), upper('b'), upper('a'), upper('b')]).toEqual(['A', 'B', 'A', 'B']);
    expect(calls).toEqual(['a', 'b']);
    expect(upper('c')).toBe('C'); // a third input: the cache starts over with it
    expect(upper('a')).toBe('A');
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
  });
});
