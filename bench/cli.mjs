#!/usr/bin/env node
/**
 * npm run bench [-- --broker amqp,kafka] [--reps 3] [--scale 2] [--only publish-64,e2e-c16] [--url <broker url>]
 *                 [--raw-wire cloudevents|plain]
 * Env: BENCH_BROKERS, BENCH_REPS, BENCH_SCALE, BENCH_ONLY, BENCH_RAW_WIRE (same meanings); broker URLs from
 * SWITCHYARD_TEST_<BROKER>_URL. Prints one line per scenario and writes bench-results/<time>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBench } from './index.mjs';

const { values } = parseArgs({
  options: {
    broker: { type: 'string' },
    reps: { type: 'string' },
    scale: { type: 'string' },
    only: { type: 'string' },
    url: { type: 'string' },
    out: { type: 'string' },
    'raw-wire': { type: 'string' },
  },
});
const list = (text) =>
  text
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const number = (text, name) => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0)) throw new Error(`bench: --${name} must be a positive number, got "${text}"`);
  return n;
};

const report = await runBench({
  url: values.url,
  brokers: list(values.broker ?? process.env.BENCH_BROKERS),
  reps: number(values.reps ?? process.env.BENCH_REPS, 'reps'),
  scale: number(values.scale ?? process.env.BENCH_SCALE, 'scale'),
  only: list(values.only ?? process.env.BENCH_ONLY),
  rawWire: values['raw-wire'] ?? process.env.BENCH_RAW_WIRE,
  log: (line) => console.log(line),
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = values.out ?? join(root, 'bench-results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `${report.startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nreport: ${file}`);
if (report.brokers.some((b) => b.error)) process.exitCode = 1;
