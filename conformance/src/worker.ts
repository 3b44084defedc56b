/**
 * The worker side of Workers (workers.ts), for a script run as its own OS process: a bus on the
 * real broker subscribing the shared topic and group with an idempotency store, reporting over
 * IPC — 'ready' once subscribed, 'progress' with what the store answered ({ claimed, done, runs }),
 * and on 'stop' it closes and exits. A subpath of its own (`@switchyard/conformance/worker`), so a
 * worker process does not load vitest.
 */
import { createBus, type IdempotencyStore, type Message } from '@switchyard/core';
import type { Progress } from './workers.js';

export interface WorkerOptions {
  readonly busUrl: string;
  readonly topic: string;
  readonly group: string;
  readonly store: IdempotencyStore & { close?(): Promise<void> };
  /** The side effect, whose repetitions the test counts. */
  effect(msg: Message): Promise<void>;
  /** Done marks kept this long (the test run should not leave keys behind for a day). */
  readonly ttlMs?: number;
  /** Release what `effect` uses, after the bus and the store closed. */
  close?(): Promise<void>;
}

export async function serveAsWorker(options: WorkerOptions): Promise<void> {
  const counts: Progress = { claimed: 0, done: 0, runs: 0 };
  let reportQueued = false;
  const report = () => {
    if (reportQueued) return;
    reportQueued = true;
    setImmediate(() => {
      reportQueued = false;
      process.send?.({ type: 'progress', ...counts });
    });
  };
  const { store } = options;
  // Count what the store answered, so the test knows when every delivery has been looked at.
  const counting: IdempotencyStore = {
    async claim(key, claimOptions) {
      const result = await store.claim(key, claimOptions);
      if (result.status !== 'busy') {
        counts[result.status] += 1;
        report();
      }
      return result;
    },
    complete: (key, token, completeOptions) => store.complete(key, token, completeOptions),
    release: (key, token) => store.release(key, token),
    ...(store.extend ? { extend: store.extend.bind(store) } : {}),
  };
  const bus = await createBus({ url: options.busUrl, service: `worker-${process.pid}` });
  await bus.subscribe(
    options.topic,
    async (msg) => {
      await options.effect(msg);
      counts.runs += 1;
    },
    { group: options.group, concurrency: 32, idempotency: { store: counting, ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}) } },
  );
  process.send?.({ type: 'ready' });
  process.on('message', async (message: { type?: string } | undefined) => {
    if (message?.type !== 'stop') return;
    await bus.close({ drainTimeoutMs: 5000 });
    await store.close?.();
    await options.close?.();
    process.send?.({ type: 'progress', ...counts }, () => process.exit(0));
  });
}
