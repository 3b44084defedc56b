#!/usr/bin/env node
/**
 * One side of one scenario, for a CPU profile:
 *   node --cpu-prof --cpu-prof-dir=prof bench/profile.mjs <broker> <scenario key> [switchyard|raw] [count]
 *   node bench/profile.mjs --summary prof/<file>.cpuprofile     # top self-time functions
 * BENCH_RAW_WIRE=plain makes the raw side send bodies alone (default: with Switchyard's CloudEvents attributes; see README).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { BROKERS, brokerOf } from './index.mjs';
import { DEFAULT_RAW_WIRE } from './lib/cloudevents.mjs';
import { scenarios } from './lib/scenarios.mjs';
import { switchyardSide } from './lib/switchyard-side.mjs';

const [first, key = 'e2e-c16', which = 'switchyard', countText] = process.argv.slice(2);
if (first === '--summary') {
  const profile = JSON.parse(readFileSync(key, 'utf8'));
  const self = new Map();
  const deltas = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || '(anonymous)'} ${url ? `${basename(url)}:${lineNumber + 1}` : ''}`.trim();
    const dt = deltas[i] ?? 0;
    total += dt;
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(which) || 25);
  for (const [name, us] of top) console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`);
} else {
  const name = brokerOf(first ?? 'memory');
  const spec = BROKERS[name];
  const url = (spec.env ? process.env[spec.env] : undefined) ?? spec.url;
  const counts = Object.fromEntries(Object.entries(spec.counts).map(([k, v]) => [k, Number(countText) || v]));
  const scenario = scenarios(counts).find((s) => s.key === key);
  const side = which === 'raw' ? (await spec.raw(url, { wire: process.env.BENCH_RAW_WIRE ?? DEFAULT_RAW_WIRE })).raw : await switchyardSide(url, `profile-${process.pid}`);
  const topic = `bench.profile.${key}.${process.pid}`;
  const state = await scenario.setup(side, topic, scenario.count);
  const started = performance.now();
  const result = await scenario.run(side, topic, scenario.count, state);
  const latency = result?.p50 === undefined ? '' : `  p50 ${result.p50.toFixed(3)} ms  p99 ${result.p99.toFixed(3)} ms`;
  console.log(`${name} ${scenario.name} (${which}): ${Math.round(scenario.count / ((performance.now() - started) / 1000))}/s${latency}`);
  await scenario.teardown?.(state);
  await side.close();
}
