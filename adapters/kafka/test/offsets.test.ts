/** Kafka-specific offset behaviour: commit only after settlement, group start offsets. */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createBus, silentLogger, type Bus, type Message } from '@switchyard/core';
import { Collector } from '@switchyard/conformance';
import { KAFKA_URL } from './helpers.js';

const buses: Bus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close({ drainTimeoutMs: 1000 })));
});

async function bus(): Promise<Bus> {
  const b = await createBus({ url: KAFKA_URL, service: `offsets-${randomUUID().slice(0, 8)}`, logger: silentLogger });
  buses.push(b);
  return b;
}

const uid = () => randomUUID().slice(0, 8);
const nOf = (m: Message) => (m.body as { n: number }).n;

describe('kafka offsets', () => {
  it('a consumer that crashes before settling leaves its messages uncommitted; acked ones do not come back', async () => {
    const topic = `offsets.crash.${uid()}`;
    const group = `g-${uid()}`;
    const first = await bus();
    const acked = new Collector<number>();
    const holding = new Collector<number>();
    await first.subscribe(
      topic,
      (m, ctx) => {
        const n = nOf(m);
        if (n < 5) {
          acked.push(n);
          return undefined;
        }
        holding.push(n);
        // Hang like a stuck handler until the close gives up on it.
        return new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      },
      { group, concurrency: 8 },
    );
    // Keys spread the held messages over partitions and keep the acked ones ahead of them in theirs.
    for (let n = 0; n < 5; n++) await first.publish(topic, { n }, { key: `k${n}` });
    await acked.waitFor(5);
    for (let n = 5; n < 8; n++) await first.publish(topic, { n }, { key: `k${n}` });
    await holding.waitFor(3);
    await first.close({ drainTimeoutMs: 50 });

    const second = await bus();
    const got = new Collector<number>();
    await second.subscribe(topic, (m) => got.push(nOf(m)), { group, concurrency: 8 });
    await got.waitFor(3, 60_000);
    // A sentinel published now arrives after anything the group still had: nothing else came back.
    await second.publish(topic, { n: 100 }, { key: 'k5' });
    await got.waitFor(4, 60_000);
    expect(got.items.filter((n) => n !== 100).sort()).toEqual([5, 6, 7]);
  });

  it('a new group starts at the end offsets as of its declaration: later messages are kept, older history is not replayed', async () => {
    const topic = `offsets.start.${uid()}`;
    const b = await bus();
    const old = new Collector<number>();
    await b.subscribe(topic, (m) => old.push(nOf(m)), { group: `early-${uid()}` });
    for (let n = 0; n < 5; n++) await b.publish(topic, { n });
    await old.waitFor(5);

    // Declared (by a pull) while it has no consumer: what is published next waits for it.
    const late = `late-${uid()}`;
    expect(await b.pull(topic, { group: late, waitMs: 0 })).toEqual([]);
    for (let n = 5; n < 8; n++) await b.publish(topic, { n });
    const got: number[] = [];
    const deadline = Date.now() + 30_000;
    while (got.length < 3 && Date.now() < deadline) {
      for (const m of await b.pull(topic, { group: late, max: 10, waitMs: 1000 })) {
        got.push(nOf(m));
        await m.ack();
      }
    }
    expect(got.sort()).toEqual([5, 6, 7]);
  });

  it('pull: a nacked message comes back with attempt + 1 while later ones stay settled', async () => {
    const topic = `offsets.pull.${uid()}`;
    const group = `g-${uid()}`;
    const b = await bus();
    await b.pull(topic, { group, waitMs: 0 });
    for (let n = 0; n < 4; n++) await b.publish(topic, { n }, { key: 'same' });
    const seen: string[] = [];
    const deadline = Date.now() + 30_000;
    let nacked = false;
    while (seen.length < 5 && Date.now() < deadline) {
      for (const m of await b.pull(topic, { group, max: 10, waitMs: 1000 })) {
        seen.push(`${nOf(m)}@${m.attempt}`);
        if (nOf(m) === 1 && !nacked) {
          nacked = true;
          await m.nack();
        } else await m.ack();
      }
    }
    // One key: strictly in order, the nacked one again before those after it.
    expect(seen).toEqual(['0@1', '1@1', '1@2', '2@1', '3@1']);
  });
});
