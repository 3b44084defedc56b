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
 * run. Alternating which side goes first shares out what one run leaves for the next to collect.
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
