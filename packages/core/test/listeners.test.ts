import { describe, expect, it } from 'vitest';
import { busWithout, topic, waitFor } from './helpers.js';

/** Node warnings (e.g. MaxListenersExceededWarning) emitted while `run` runs. */
async function warningsDuring(run: () => Promise<void>): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => void warnings.push(warning);
  process.on('warning', onWarning);
  try {
    await run();
    // process.emitWarning reports on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe('many handlers waiting at once', () => {
  it('16 concurrent in-place retries raise no MaxListenersExceededWarning', async () => {
    const bus = await busWithout({ nack: 'none' });
    const t = topic('sixteen');
    const n = 16;
    let failing = 0;
    let releaseAll!: () => void;
    const allFailing = new Promise<void>((resolve) => (releaseAll = resolve));
    const done: number[] = [];
    const warnings = await warningsDuring(async () => {
      await bus.subscribe(
        t,
        async (m) => {
          if (m.attempt === 1) {
            // Fail all 16 together, so all 16 wait out their retry delay at the same time.
            if (++failing === n) releaseAll();
            await allFailing;
            throw new Error('try again');
          }
          done.push((m.body as { i: number }).i);
        },
        { concurrency: n, retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 100, factor: 1 } },
      );
      for (let i = 0; i < n; i++) await bus.publish(t, { i });
      await waitFor(done, n);
    });
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    await bus.close();
  });

  it('16 concurrent handlers that pass ctx.signal on (as to fetch) raise no MaxListenersExceededWarning', async () => {
    const bus = await busWithout({});
    const t = topic('ctx-signal');
    const n = 16;
    let listening = 0;
    let releaseAll!: () => void;
    const allListening = new Promise<void>((resolve) => (releaseAll = resolve));
    const done: number[] = [];
    const warnings = await warningsDuring(async () => {
      await bus.subscribe(
        t,
        async (m, ctx) => {
          const onAbort = () => undefined;
          ctx.signal.addEventListener('abort', onAbort);
          if (++listening === n) releaseAll();
          await allListening;
          ctx.signal.removeEventListener('abort', onAbort);
          done.push((m.body as { i: number }).i);
        },
        { concurrency: n },
      );
      for (let i = 0; i < n; i++) await bus.publish(t, { i });
      await waitFor(done, n);
    });
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    await bus.close();
  });

  it('16 concurrent pulls on one bus raise no MaxListenersExceededWarning', async () => {
    const bus = await busWithout({});
    const t = topic('pulls');
    const warnings = await warningsDuring(async () => {
      const pulls = Array.from({ length: 16 }, () => bus.pull(t, { waitMs: 5000 }));
      await new Promise((resolve) => setImmediate(resolve));
      await bus.close(); // aborts every waiting pull
      await Promise.all(pulls);
    });
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
  });
});
