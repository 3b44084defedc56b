/** When the batcher sends: after a macrotask, or (soonWhenIdle, publishes) at the end of the turn while idle. */
import { describe, expect, it } from 'vitest';
import { Batcher, EntryError } from '../src/batcher.js';

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A batcher whose requests are recorded and answered when the test says so. */
function recording(options: { soonWhenIdle?: boolean } = {}) {
  const requests: { url: string; entries: string[]; answer(): void }[] = [];
  const batcher = new Batcher<string, void>(
    (url, entries) =>
      new Promise((resolve) => {
        requests.push({ url, entries, answer: () => resolve(entries.map(() => undefined)) });
      }),
    Number.POSITIVE_INFINITY,
    options,
  );
  return { batcher, requests };
}

describe('Batcher', () => {
  it('soonWhenIdle, idle: the calls of one turn go in one request before the next macrotask', async () => {
    const { batcher, requests } = recording({ soonWhenIdle: true });
    let sentBeforeMacrotask: number | undefined;
    setImmediate(() => (sentBeforeMacrotask = requests.length));
    const first = batcher.add('q', 'a');
    // A caller that reaches the batcher a few awaits later in the same turn (a publish loop).
    await Promise.resolve();
    await Promise.resolve();
    const second = batcher.add('q', 'b');
    await macrotask();
    expect(sentBeforeMacrotask).toBe(1);
    expect(requests.map((r) => r.entries)).toEqual([['a', 'b']]);
    requests[0]!.answer();
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
  });

  it('soonWhenIdle: a queue with nothing in flight goes at the end of the turn while another queue has a request in flight', async () => {
    const { batcher, requests } = recording({ soonWhenIdle: true });
    void batcher.add('requests', 'a');
    await macrotask();
    expect(requests).toHaveLength(1);
    let sentBeforeMacrotask: number | undefined;
    setImmediate(() => (sentBeforeMacrotask = requests.length));
    void batcher.add('replies', 'b');
    await macrotask();
    expect(sentBeforeMacrotask).toBe(2);
    expect(requests.map((r) => [r.url, r.entries])).toEqual([
      ['requests', ['a']],
      ['replies', ['b']],
    ]);
    for (const r of requests) r.answer();
  });

  it('by default (acks), idle too: calls wait for the next macrotask', async () => {
    const { batcher, requests } = recording();
    let sentBeforeMacrotask: number | undefined;
    setImmediate(() => (sentBeforeMacrotask = requests.length));
    void batcher.add('q', 'a');
    await macrotask();
    expect(sentBeforeMacrotask).toBe(0);
    await macrotask();
    expect(requests.map((r) => r.entries)).toEqual([['a']]);
    requests[0]!.answer();
  });

  it('soonWhenIdle, busy: calls from several I/O callbacks while a request is in flight wait a macrotask and go together', async () => {
    const { batcher, requests } = recording({ soonWhenIdle: true });
    void batcher.add('q', 'a');
    await macrotask();
    expect(requests).toHaveLength(1);
    // Two callbacks of one event-loop phase (as two responses read in one poll) each add one.
    setImmediate(() => void batcher.add('q', 'b'));
    setImmediate(() => void batcher.add('q', 'c'));
    await macrotask();
    await macrotask();
    expect(requests.map((r) => r.entries)).toEqual([['a'], ['b', 'c']]);
    for (const r of requests) r.answer();
  });

  it('more than ten calls go in requests of ten, per queue; a failed entry fails only its caller', async () => {
    const requests: { url: string; entries: number[] }[] = [];
    const batcher = new Batcher<number, void>(async (url, entries) => {
      requests.push({ url, entries });
      return entries.map((n) => (n === 3 ? new EntryError({ Code: 'InvalidMessageContents', SenderFault: true }) : undefined));
    }, Number.POSITIVE_INFINITY);
    const results = await Promise.allSettled([...Array.from({ length: 12 }, (_, n) => batcher.add('q1', n)), batcher.add('q2', 100)]);
    expect(requests.map((r) => [r.url, r.entries.length])).toEqual([
      ['q1', 10],
      ['q1', 2],
      ['q2', 1],
    ]);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name)).toEqual(['InvalidMessageContents']);
    expect((results[3] as PromiseRejectedResult).status).toBe('rejected');
  });
});
