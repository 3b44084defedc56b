/** Resolves after ms, or early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Whether `ms` passed before `work` settled: false as soon as it resolves, true once the time is
 * up (work goes on), its rejection if it rejects first. The timer ends with the race either way: a
 * sleep left running after the work won kept the process alive until it ran out. A plain timer,
 * not an aborted controller: aborting builds a DOMException with a stack trace, and the Kafka
 * consumer calls this once or twice per batch.
 */
export function outlasts(work: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(true), Math.max(0, ms));
    work.then(
      () => {
        clearTimeout(timer);
        resolve(false);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
