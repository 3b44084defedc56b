/**
 * How the bench turns runs into a ratio. Pure arithmetic on made-up runs: no broker.
 * A run's rate drifts during a bench (on Kafka's sequential publish it rose and fell by 1.7×
 * within one bench), so each pair's two runs, back to back, are compared with each other.
 */
import { describe, expect, it } from 'vitest';
import { type Run, summarize } from '../lib/measure.mjs';

const run = (rate: number, extra: Partial<Run> = {}): Run => ({ count: 1000, seconds: 1000 / rate, rate, cpuUsPerMsg: 100, ...extra });
const scenario = { name: 'publish sequential', key: 'publish-seq', count: 1000 };

describe('bench statistics', () => {
  it('the ratio is the median of the per-pair ratios, so drift between pairs does not enter it', () => {
    // Both sides drift alike from pair to pair; within each pair Switchyard is 0.95× raw, except one pair at 0.5×.
    const rawRates = [4000, 2000, 4100, 2100, 4200];
    const factors = [0.95, 0.95, 0.5, 0.95, 0.95];
    const result = summarize(scenario, { raw: rawRates.map((r) => run(r)), switchyard: rawRates.map((r, i) => run(r * (factors[i] ?? 1))) });
    expect(result.ratio).toBeCloseTo(0.95, 10);
    expect(result.ratioSpread).toEqual([0.5, expect.closeTo(0.95, 10)]);
    // The medians come from different moments: raw's is 4000, Switchyard's 2050 (the 0.5× pair's).
    expect(result.raw.rate).toBe(4000);
    expect(result.ratioOfMedians).toBeCloseTo(2050 / 4000, 10);
  });

  it('latency ratios are medians of the per-pair ratios too', () => {
    const raw = [run(100, { p50: 1, p99: 4 }), run(100, { p50: 2, p99: 8 }), run(100, { p50: 1, p99: 4 })];
    const switchyard = [run(100, { p50: 1.1, p99: 4.4 }), run(100, { p50: 2.2, p99: 8.8 }), run(100, { p50: 3, p99: 4 })];
    const result = summarize({ ...scenario, latency: true }, { raw, switchyard });
    expect(result.p50Ratio).toBeCloseTo(1.1, 10);
    expect(result.p99Ratio).toBeCloseTo(1.1, 10);
    expect(result.raw.p50).toBe(1);
    expect(result.switchyard.p50).toBe(2.2);
  });

  it('a pair one side did not finish is left out', () => {
    const result = summarize(scenario, { raw: [run(1000), run(1000)], switchyard: [run(900)] });
    expect(result.ratio).toBeCloseTo(0.9, 10);
    expect(result.ratioSpread).toEqual([expect.closeTo(0.9, 10), expect.closeTo(0.9, 10)]);
  });
});
