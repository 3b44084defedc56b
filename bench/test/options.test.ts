/**
 * Bad options are refused before any broker is touched (these run with no broker at all), each
 * with the values that are accepted.
 */
import { runBench, SCENARIO_KEYS } from '@switchyard/bench';
import { describe, expect, it } from 'vitest';

describe('bench options', () => {
  it('an unknown scenario key is an error that lists the known ones', async () => {
    await expect(runBench({ brokers: ['memory'], only: ['publish-sq', 'e2e-c1'] })).rejects.toThrow(`bench: unknown scenario "publish-sq"; use ${SCENARIO_KEYS.join(', ')}.`);
  });

  it('an unknown raw wire is an error that lists the known ones', async () => {
    // As a JavaScript caller could pass it; the type allows only the known ones.
    await expect(runBench({ brokers: ['memory'], rawWire: 'binary' as 'plain' })).rejects.toThrow('bench: raw wire "binary" is unknown; use cloudevents or plain.');
  });

  it('the scenario keys are those bench/README.md documents', () => {
    expect(SCENARIO_KEYS).toEqual(['publish-seq', 'publish-64', 'e2e-c1', 'e2e-c16', 'rr-seq', 'rr-32', 'inflight']);
  });
});
