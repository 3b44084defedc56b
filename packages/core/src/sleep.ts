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
 * sleep left running after the work won kept the process alive until it ran out.
 */
export async function outlasts(work: Promise<unknown>, ms: number): Promise<boolean> {
  const decided = new AbortController();
  const limit = sleep(ms, decided.signal).then(() => !decided.signal.aborted);
  try {
    return await Promise.race([work.then(() => false), limit]);
  } finally {
    decided.abort();
  }
}
