/**
 * How the bench turns runs into a ratio. Pure arithmetic on made-up runs: no broker.
 * Each repetition runs raw, Switchyard, Switchyard, raw (the next one the other way round), so a
 * side has two runs per repetition, and each repetition's ratio compares runs of the same moments.
 */
import { describe, expect, it } from 'vitest';
import { ORDERS, type Run, type Runs, summarize } from '../lib/measure.mjs';

const COUNT = 1000;
const run = (rate: number, extra: Partial<Run> = {}): Run => ({ count: COUNT, seconds: COUNT / rate, rate, cpuUsPerMsg: 100, ...extra });
const scenario = { name: 'publish sequential', key: 'publish-seq', count: COUNT };

/** The runs of `reps` repetitions in the bench's order: `speed(position)` is how fast the broker was for the position-th run, Switchyard reaching `factor(rep)` of raw. */
function bench(reps: number, speed: (position: number) => number, factor: (rep: number) => number): Runs {
  const runs: Runs = { raw: [], switchyard: [] };
  let position = 0;
  for (let rep = 0; rep < reps; rep++)
    for (const which of ORDERS[rep % 2] ?? []) {
      const rate = speed(position++) * (which === 'switchyard' ? factor(rep) : 1);
      runs[which].push(run(rate));
    }
  return runs;
}

describe('bench statistics', () => {
  it('what alternates from one run to the next weighs on both sides alike', () => {
    // The Pub/Sub emulator's pattern: every other run 1.5× slower, whichever side runs it.
    const result = summarize(
      scenario,
      bench(
        5,
        (position) => (position % 2 === 0 ? 20_000 : 30_000),
        () => 0.95,
      ),
    );
    expect(result.ratio).toBeCloseTo(0.95, 10);
    expect(result.ratioSpread).toEqual([expect.closeTo(0.95, 10), expect.closeTo(0.95, 10)]);
  });

  it('what drifts steadily during the bench weighs on both sides alike', () => {
    const rising = (position: number) => 2000 + 400 * position;
    const result = summarize(
      scenario,
      bench(3, rising, () => 0.95),
    );
    expect(result.ratio).toBeCloseTo(0.95, 10);
    expect(result.ratioSpread).toEqual([expect.closeTo(0.95, 10), expect.closeTo(0.95, 10)]);
  });

  it('the ratio is the median of the repetitions, so one disturbed repetition does not move it', () => {
    const result = summarize(
      scenario,
      bench(
        5,
        () => 4000,
        (rep) => (rep === 2 ? 0.5 : 0.95),
      ),
    );
    expect(result.ratio).toBeCloseTo(0.95, 10);
    expect(result.ratioSpread).toEqual([expect.closeTo(0.5, 10), expect.closeTo(0.95, 10)]);
  });

  it('rates are medians of the runs, and the ratio of those medians is in the report too', () => {
    // Runs from different moments: raw's median comes from a fast stretch, Switchyard's from a slow one.
    const rates = [4000, 4200, 2000, 2100, 4400, 4300];
    const runs: Runs = { raw: rates.map((r) => run(r)), switchyard: [1900, 2000, 4000, 4100, 2050, 2000].map((r) => run(r)) };
    const result = summarize(scenario, runs);
    expect(result.raw.rate).toBe(4100);
    expect(result.switchyard.rate).toBe(2025);
    expect(result.ratioOfMedians).toBeCloseTo(2025 / 4100, 10);
  });

  it('latency ratios are medians of the repetitions too', () => {
    const latency = (p50: number): Run => run(100, { p50, p99: 4 * p50 });
    const runs: Runs = {
      raw: [latency(1), latency(1), latency(2), latency(2), latency(1), latency(1)],
      switchyard: [latency(1.1), latency(1.1), latency(2.2), latency(2.2), latency(3), latency(3)],
    };
    const result = summarize({ ...scenario, latency: true }, runs);
    expect(result.p50Ratio).toBeCloseTo(1.1, 10);
    expect(result.p99Ratio).toBeCloseTo(1.1, 10);
  });

  it('a repetition one side did not finish is left out', () => {
    const result = summarize(scenario, { raw: [run(1000), run(1000), run(1000)], switchyard: [run(900), run(900)] });
    expect(result.ratio).toBeCloseTo(0.9, 10);
    expect(result.ratioSpread).toEqual([expect.closeTo(0.9, 10), expect.closeTo(0.9, 10)]);
  });
});
