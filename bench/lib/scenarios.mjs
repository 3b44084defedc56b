/**
 * The scenarios, written once over a Side (a raw client or Switchyard), and the runner that
 * alternates the two sides in one process: rep 1 raw then Switchyard, rep 2 the other way round...
 *
 * interface Side {
 *   label: 'raw' | 'switchyard'
 *   prepare(topic): Promise<void>                       // make the topic store messages (a queue/stream/group) before publish-only runs
 *   publish(topic, body): Promise<void>                 // resolves once the broker confirmed it
 *   publishBatch?(topic, bodies): Promise<void>         // raw only: the broker's explicit batch (Kafka, SQS), used for "64 in flight"
 *   consume(topic, concurrency, handler): Promise<close> // settle each message after handler(body) resolves
 *   serve(topic, concurrency, answer): Promise<close>   // reply with answer(body)
 *   request(topic, body): Promise<reply>
 *   close(): Promise<void>                              // removes what the side declared (queues, groups, topics)
 *   topics?(): string[]                                 // Switchyard only: the topics it used and their dead-letter topics
 *   removeTopics?(names): Promise<void>                 // raw Kafka only: removes those topics (removing Switchyard's groups leaves them)
 * }
 */
import { deferred, heapUsed, lanes, ORDERS, percentile, summarize, timed, until } from './measure.mjs';
import { body } from './pool.mjs';

const RUN_TIMEOUT_MS = 180_000;

/** Publish `count` bodies with `parallel` in flight; a side with publishBatch sends batches of `parallel` instead. */
async function publishAll(side, topic, count, parallel, useBatch) {
  if (useBatch && side.publishBatch) {
    for (let start = 0; start < count; start += parallel) {
      const bodies = [];
      for (let n = start; n < Math.min(count, start + parallel); n++) bodies.push(body(n));
      await side.publishBatch(topic, bodies);
    }
    return;
  }
  await lanes(count, parallel, (n) => side.publish(topic, body(n)));
}

/**
 * Messages published, untimed, to each run's fresh topic before the run. The first records of a
 * new Kafka partition take milliseconds each (the broker sets up the partition's files): with
 * 4 partitions, records 17 to 20 took 5–20 ms on both sides, some 20–50 ms of a sequential run of
 * 0.8 s, so the measured runs are at the pace of a topic in use, as an app's are. (A
 * Switchyard bus's first publish to a topic also checks that it exists: once per topic.)
 */
export const PRIMER = 32;

async function prime(side, topic) {
  await lanes(PRIMER, 1, (n) => side.publish(topic, body(n)));
}

async function prepareAndPrime(side, topic) {
  await side.prepare(topic);
  await prime(side, topic);
}

/** The keys runBench's `only` takes: every scenario's, and 'inflight' (heap per in-flight message). */
export const SCENARIO_KEYS = [...scenarios({}).map((s) => s.key), 'inflight'];

export function scenarios(counts) {
  const list = [
    {
      key: 'publish-seq',
      name: 'publish sequential',
      count: counts.publishSeq,
      sameTopic: true,
      setup: prepareAndPrime,
      run: (side, topic, count) => lanes(count, 1, (n) => side.publish(topic, body(n))),
    },
    {
      key: 'publish-64',
      name: 'publish 64 in flight',
      count: counts.publish64,
      sameTopic: true,
      setup: prepareAndPrime,
      run: (side, topic, count) => publishAll(side, topic, count, 64, true),
    },
  ];
  for (const concurrency of [1, 16]) {
    list.push({
      key: `e2e-c${concurrency}`,
      name: `publish → handler c${concurrency}`,
      count: concurrency === 1 ? counts.e2e1 : counts.e2e16,
      async setup(side, topic, count) {
        // The handler resolves `done` when `received` reaches `awaited`: first the primer, then the run's messages too.
        const state = { received: 0, awaited: PRIMER, done: deferred() };
        state.close = await side.consume(topic, concurrency, () => {
          if (++state.received === state.awaited) state.done.resolve();
        });
        await prime(side, topic);
        await state.done.promise;
        Object.assign(state, { awaited: PRIMER + count, done: deferred() });
        return state;
      },
      async run(side, topic, count, state) {
        await publishAll(side, topic, count, 64, true);
        await state.done.promise;
      },
      teardown: (state) => state.close(),
    });
  }
  list.push(
    {
      key: 'rr-seq',
      name: 'request/reply sequential',
      count: counts.requestSeq,
      latency: true,
      setup: (side, topic) => serveAndWarm(side, topic, 1),
      async run(side, topic, count) {
        const latencies = [];
        for (let n = 0; n < count; n++) {
          const started = performance.now();
          await side.request(topic, { n });
          latencies.push(performance.now() - started);
        }
        latencies.sort((a, b) => a - b);
        return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
      },
      teardown: (state) => state.close(),
    },
    {
      key: 'rr-32',
      name: 'request/reply 32 in flight',
      count: counts.request32,
      setup: (side, topic) => serveAndWarm(side, topic, 16),
      run: (side, topic, count) => lanes(count, 32, (n) => side.request(topic, { n })),
      teardown: (state) => state.close(),
    },
  );
  return list;
}

async function serveAndWarm(side, topic, concurrency) {
  const close = await side.serve(topic, concurrency, (request) => ({ echo: request }));
  // The first requests open the reply inbox and connections: not part of what is measured.
  for (let n = 0; n < 5; n++) await side.request(topic, { warm: n });
  return { close };
}

/**
 * Heap per message held by a handler: `count` handlers parked at once (concurrency = count),
 * heap after a full GC minus before, divided by count. Includes what the client keeps per
 * unsettled delivery (the raw side's too, for comparison).
 */
export async function inFlightMemory(side, topic, count) {
  const gate = deferred();
  let entered = 0;
  let finished = 0;
  const close = await side.consume(topic, count, async () => {
    entered++;
    await gate.promise;
    finished++;
  });
  try {
    const before = heapUsed();
    await publishAll(side, topic, count, 64, true);
    await until(() => entered >= count, RUN_TIMEOUT_MS, `${count} handlers to start (${entered} so far)`);
    const held = heapUsed();
    gate.resolve();
    await until(() => finished >= count, RUN_TIMEOUT_MS, 'held handlers to finish');
    return { bytesPerMessage: (held - before) / count };
  } finally {
    gate.resolve();
    await close();
  }
}

async function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench: ${what} did not finish within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each side's warm-up run, before the measured ones, has this share of the scenario's messages. */
export const WARM_UP_SHARE = 0.25;

/** One run of one side: setup, the timed run, teardown. */
async function runSide(scenario, side, which, topic, count) {
  const state = await withTimeout(Promise.resolve(scenario.setup(side, topic, count)), `${scenario.name} setup (${which})`);
  try {
    return await withTimeout(
      timed(count, () => scenario.run(side, topic, count, state)),
      `${scenario.name} (${which})`,
    );
  } finally {
    await scenario.teardown?.(state);
  }
}

/**
 * One scenario on both sides, `reps` times. Each repetition runs raw, Switchyard, Switchyard, raw
 * (the next one the other way round), so that what drifts steadily during a bench, and what
 * alternates from one run to the next, weighs on both sides alike: on the Pub/Sub emulator,
 * runs 1, 3, 5 and 7 of a bench were fast and runs 0, 2, 4 and 6 slow (by 1.5×), whichever side
 * ran them, which with pairs run raw, Switchyard then Switchyard, raw made each pair's ratio swing
 * from 0.65 to 1.57. Every run that consumes gets a fresh topic, so nothing one run left behind is
 * consumed or counted by the next. Publish-only runs (`sameTopic`) use one topic per side: the
 * first thousand records of a fresh Kafka topic went 25 % slower than later ones, on both sides,
 * a third of a sequential run. Each side first runs a quarter of the messages unmeasured: the
 * first measured runs were otherwise the slowest on both sides (cold JIT in this process and in
 * the broker), by up to 2×.
 */
export async function runPair({ scenario, sides, reps, topicFor }) {
  const topicOf = (which, label) => topicFor(scenario.key, which, scenario.sameTopic ? 'all' : label);
  const warmUpCount = Math.max(1, Math.ceil(scenario.count * WARM_UP_SHARE));
  for (const which of ['raw', 'switchyard']) await runSide(scenario, sides[which], which, topicOf(which, 'warm'), warmUpCount);
  const runs = { raw: [], switchyard: [] };
  for (let rep = 0; rep < reps; rep++) {
    for (const which of ORDERS[rep % 2]) {
      // Each side's first and second run of the repetition: `<rep>a`, `<rep>b`.
      const label = `${rep}${runs[which].length % 2 === 0 ? 'a' : 'b'}`;
      runs[which].push(await runSide(scenario, sides[which], which, topicOf(which, label), scenario.count));
    }
  }
  return summarize(scenario, runs);
}
