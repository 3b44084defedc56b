/**
 * The raw baselines' concurrency limit: at most `size` handlers at once, the rest queued in
 * arrival order — what Switchyard's runner enforces, written the way an app would by hand.
 */
export function pool(size) {
  let running = 0;
  const queue = [];
  const pump = () => {
    while (running < size && queue.length > 0) {
      const job = queue.shift();
      running++;
      Promise.resolve()
        .then(job)
        .catch(() => undefined)
        .finally(() => {
          running--;
          pump();
        });
    }
  };
  return (job) => {
    queue.push(job);
    pump();
  };
}

/** Switchyard's prefetch for a concurrency (core's prefetchFor), so raw consumers get the same. */
export function prefetchFor(concurrency) {
  return concurrency + Math.min(Math.max(concurrency, 4), 64);
}

/** The 1 KiB JSON body every scenario sends. */
export function body(n) {
  return { n, pad: 'x'.repeat(1000) };
}

export const encode = (value) => Buffer.from(JSON.stringify(value));
export const decode = (bytes) => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
