#!/usr/bin/env node
/**
 * Throughput of the Bus on a transport (default memory://; set SWITCHYARD_URL for a broker):
 * publish-only, publish→consume end to end, and request/reply round trips; then the memory
 * idempotency store's claims when it is full.
 * Numbers are for comparing changes on one machine, not absolute claims.
 */
import { createBus, memoryIdempotencyStore, silentLogger } from '../dist/index.js';

const url = process.env.SWITCHYARD_URL ?? 'memory://bench';
const N = Number(process.env.BENCH_MESSAGES ?? 20_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000);
const KEYS = Number(process.env.BENCH_IDEMPOTENCY_KEYS ?? 100_000);
const run = Math.random().toString(36).slice(2, 8);

async function measure(label, count, fn) {
  const started = performance.now();
  await fn();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${label.padEnd(44)} ${String(count).padStart(7)} in ${seconds.toFixed(2).padStart(6)} s  ${Math.round(count / seconds)
      .toLocaleString('en-US')
      .padStart(9)} /s`,
  );
}

const bus = await createBus({ url, service: `bench-${run}`, logger: silentLogger });
console.log(`Switchyard bench on ${url.replace(/\/\/[^@/]*@/, '//***@')} (${bus.capabilities ? `node ${process.version}` : ''})`);

const publishOnly = `bench.publish.${run}`;
await measure('publish (confirmed, 64 in flight)', N, async () => {
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < N) await bus.publish(publishOnly, { n: next++, pad: 'x'.repeat(100) });
    }),
  );
});

for (const concurrency of [1, 16]) {
  const topic = `bench.e2e.${concurrency}.${run}`;
  let received = 0;
  let done;
  const all = new Promise((r) => (done = r));
  const sub = await bus.subscribe(
    topic,
    () => {
      if (++received === N) done();
    },
    { concurrency },
  );
  await measure(`publish → handler (concurrency ${concurrency})`, N, async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < N) await bus.publish(topic, { n: next++ });
      }),
    );
    await all;
  });
  await sub.close();
}

const rpc = `bench.rpc.${run}`;
await bus.reply(rpc, (req) => ({ echo: req.body }), { concurrency: 16 });
await measure('request/reply (16 in flight)', REQUESTS, async () => {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < REQUESTS) await bus.request(rpc, { n: next++ });
    }),
  );
});
await bus.close();

// The memory idempotency store at maxEntries: each claim first expires the oldest done mark.
// A claim must not scan the store (it used to, taking ~1.7 ms per claim at 100k keys).
let clock = 0;
const store = memoryIdempotencyStore({ maxEntries: KEYS, now: () => clock });
const handled = async (i) => {
  clock += 1; // one ms per message, so done marks kept for KEYS ms fill the store exactly
  const claim = await store.claim(`key-${i}`, { leaseMs: 1000 });
  if (claim.status !== 'claimed') throw new Error(`bench: expected to claim key-${i}, got ${claim.status}`);
  await store.complete(`key-${i}`, claim.token, { ttlMs: KEYS });
};
for (let i = 0; i < KEYS; i++) await handled(i);
await measure('idempotency claim+complete (store full)', KEYS, async () => {
  for (let i = KEYS; i < 2 * KEYS; i++) await handled(i);
});
