/**
 * Timing, CPU and heap measurement for one run, and the statistics over repetitions.
 * CPU is this process's (process.cpuUsage): the client's cost per message, not the broker's.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
/** A full GC, for heap measurements (heapUsed). */
export const gc = runInNewContext('gc');

/**
 * One run's time, rate and CPU. No full GC before it: V8 answers a forced GC by keeping the old
 * generation's limit just above what is live, and then marks incrementally again and again (25
 * full GCs instead of 6 over six runs of 3,000 Kafka publishes; write barriers are slow while
 * marking). That doubled both sides' CPU per message over the first thousand messages of every
 * run. The order of the runs (raw, Switchyard, Switchyard, raw; then the other way round) shares
 * out what one run leaves for the next to collect.
 */
export async function timed(count, run) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const extra = await run();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { count, seconds, rate: count / seconds, cpuUsPerMsg: (used.user + used.system) / count, ...extra };
}

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(sortedValues, p) {
  if (sortedValues.length === 0) return Number.NaN;
  return sortedValues[Math.min(sortedValues.length - 1, Math.floor((p / 100) * sortedValues.length))];
}

/** Heap used after a full GC, in bytes. */
export function heapUsed() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Resolves when `predicate` holds, checking after every macrotask (no fixed sleeps). */
export async function until(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** A promise with its resolve/reject outside (Promise.withResolvers is Node 22+). */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Run `worker` on `parallel` lanes until `count` items are taken; each lane gets the next index. */
export async function lanes(count, parallel, worker) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await worker(next++);
    }),
  );
}

/**
 * The order of one repetition's four runs; the next repetition takes the other. The statistics
 * below rely on it: each side runs twice per repetition, once near each end or both in the middle.
 */
export const ORDERS = [
  ['raw', 'switchyard', 'switchyard', 'raw'],
  ['switchyard', 'raw', 'raw', 'switchyard'],
];
const RUNS_PER_REP = 2;

/**
 * A side's runs in repetition `rep`, as one: their mean. With raw's runs first and last and
 * Switchyard's in the middle (or the other way round), a rate that drifts in a straight line
 * gives both sides the same mean.
 */
function repOf(sideRuns, rep, field) {
  const mine = sideRuns.slice(rep * RUNS_PER_REP, (rep + 1) * RUNS_PER_REP);
  if (mine.length < RUNS_PER_REP) return Number.NaN;
  return mine.reduce((sum, r) => sum + r[field], 0) / mine.length;
}

/** Each complete repetition's Switchyard value over its raw value. */
function repRatios(runs, field) {
  const reps = Math.floor(runs.raw.length / RUNS_PER_REP);
  return Array.from({ length: reps }, (_, rep) => repOf(runs.switchyard, rep, field) / repOf(runs.raw, rep, field)).filter(Number.isFinite);
}

/**
 * Medians of each side's runs, and the ratios. A ratio is the median of the repetitions' ratios:
 * within a repetition (raw, Switchyard, Switchyard, raw) both sides meet the same moments of the
 * bench, while whatever drifts (the broker's JIT and GC, the other processes on 2 cores) moves
 * the two sides' medians, which come from different moments. On Kafka's sequential publish,
 * whose rate rose and fell by 1.7× within one bench, the ratio of the medians (`ratioOfMedians`,
 * in the report) read 0.83 while five of seven back-to-back pairs read 0.94–1.09.
 */
export function summarize(scenario, runs) {
  const m = (which, field) => median(runs[which].map((r) => r[field]));
  const out = {
    scenario: scenario.name,
    key: scenario.key,
    count: scenario.count,
    raw: { rate: m('raw', 'rate'), cpuUsPerMsg: m('raw', 'cpuUsPerMsg') },
    switchyard: { rate: m('switchyard', 'rate'), cpuUsPerMsg: m('switchyard', 'cpuUsPerMsg') },
    runs,
  };
  const ratios = repRatios(runs, 'rate');
  out.ratio = median(ratios);
  out.ratioOfMedians = out.switchyard.rate / out.raw.rate;
  if (scenario.latency) {
    for (const which of ['raw', 'switchyard']) Object.assign(out[which], { p50: m(which, 'p50'), p99: m(which, 'p99') });
    out.p50Ratio = median(repRatios(runs, 'p50'));
    out.p99Ratio = median(repRatios(runs, 'p99'));
  }
  // Spread of the repetitions' ratios, to show how noisy the box was.
  out.ratioSpread = ratios.length > 0 ? [Math.min(...ratios), Math.max(...ratios)] : [];
  return out;
}
