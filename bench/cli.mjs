#!/usr/bin/env node
/**
 * npm run bench [-- --broker amqp,kafka] [--reps 3] [--scale 2] [--only publish-64,e2e-c16] [--url <broker url>]
 *                 [--raw-wire cloudevents|plain]
 * Env: BENCH_BROKERS, BENCH_REPS, BENCH_SCALE, BENCH_ONLY, BENCH_RAW_WIRE (same meanings); broker URLs from
 * SWITCHYARD_TEST_<BROKER>_URL. Prints one line per scenario and writes bench-results/<time>.json.
 *
 * Several brokers are benched one after another, each in a process of its own (this script again,
 * with --broker <one> and the same options), and their reports merged. Run after memory:// and
 * RabbitMQ in one process, Kafka's Switchyard side took 3-6 µs more CPU per message and raw kafkajs
 * none, most likely because core's code, which serves every transport, had become polymorphic:
 * what an app on one broker never sees.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { redactUrl } from '@switchyard/core/spi';
import { BROKERS, brokerOf, runBench, SCENARIO_KEYS } from './index.mjs';
import { RAW_WIRES } from './lib/cloudevents.mjs';
import { optionProblem } from './lib/options.mjs';

const USAGE = `usage: npm run bench [-- <options>]      (or: node bench/cli.mjs [<options>])
  --broker a,b     brokers: memory, amqp, kafka, nats, sqs, pubsub (default all; BENCH_BROKERS)
  --url <url>      one broker at this URL, instead of --broker
  --only a,b       scenarios: ${SCENARIO_KEYS.join(', ')} (default all; BENCH_ONLY)
  --reps <n>       repetitions: raw, Switchyard, Switchyard, raw, then the other way round (default 3;
                   BENCH_REPS); each side runs once first, unmeasured
  --scale <s>      multiplies every message count (default 1; BENCH_SCALE)
  --raw-wire <w>   what the raw sides send: ${RAW_WIRES.join(' (default) or ')} (BENCH_RAW_WIRE)
  --out <dir>      where the JSON report goes (default bench-results/)
  -h, --help       this text
Broker URLs: SWITCHYARD_TEST_<BROKER>_URL, else the scripts/brokers addresses. See bench/README.md.`;

/** A mistake in the command line: say what, show the usage, exit 2. */
function usageError(message) {
  console.error(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({ options: cliOptions() }));
} catch (err) {
  usageError(err instanceof Error ? err.message : String(err));
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function cliOptions() {
  return {
    help: { type: 'boolean', short: 'h' },
    broker: { type: 'string' },
    reps: { type: 'string' },
    scale: { type: 'string' },
    only: { type: 'string' },
    url: { type: 'string' },
    out: { type: 'string' },
    'raw-wire': { type: 'string' },
    // Internal: a child benching one broker writes its report here and nothing else.
    'report-file': { type: 'string' },
  };
}
const list = (text) =>
  text
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const number = (text, name) => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0)) usageError(`--${name} must be a positive number, got "${text}"`);
  return n;
};

const options = {
  url: values.url,
  brokers: list(values.broker ?? process.env.BENCH_BROKERS),
  reps: number(values.reps ?? process.env.BENCH_REPS, 'reps'),
  scale: number(values.scale ?? process.env.BENCH_SCALE, 'scale'),
  only: list(values.only ?? process.env.BENCH_ONLY),
  rawWire: values['raw-wire'] ?? process.env.BENCH_RAW_WIRE,
  log: (line) => console.log(line),
};
// runBench checks these too; checked here first, a bad value is one error and not one per broker process.
const problem = optionProblem(options);
if (problem) usageError(problem);
const knownBroker = (nameOrUrl) => {
  try {
    return brokerOf(nameOrUrl);
  } catch (err) {
    return usageError(String(err instanceof Error ? err.message : err).replace(/^bench: /, ''));
  }
};
if (options.url) knownBroker(options.url);
const brokers = options.url ? [] : (options.brokers ?? Object.keys(BROKERS)).map(knownBroker);
const report = brokers.length > 1 ? await eachInOwnProcess(brokers) : await runBench(options);

if (values['report-file']) {
  writeFileSync(values['report-file'], JSON.stringify(report));
} else {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const dir = values.out ?? join(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${report.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nreport: ${file}`);
}
if (report.brokers.some((b) => b.error)) process.exitCode = 1;

/** Bench each broker in a child process (its lines printed as they come), then one report of them all. */
async function eachInOwnProcess(names) {
  const startedAt = new Date().toISOString();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  const passed = [];
  for (const name of ['reps', 'scale', 'only', 'raw-wire']) if (values[name] !== undefined) passed.push(`--${name}`, values[name]);
  const reports = [];
  try {
    for (const broker of names) {
      const file = join(dir, `${broker}.json`);
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--broker', broker, ...passed, '--report-file', file], { stdio: ['ignore', 'inherit', 'inherit'] });
      const code = await new Promise((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (exitCode, signal) => resolve(exitCode ?? signal));
      });
      let part;
      try {
        part = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        const error = `its bench process ended (${code}) without a report; its output above says why`;
        console.log(`${broker}: failed — ${error}`);
        const { env, url } = BROKERS[broker];
        part = { brokers: [{ broker, url: redactUrl(new URL((env ? process.env[env] : undefined) ?? url)), run: undefined, results: [], error }] };
      }
      reports.push(part);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Each broker entry has its own run id (the names its runs used); the top-level one would name only one process.
  const { run: _oneProcess, ...first } = reports.find((r) => r.run !== undefined) ?? {};
  return { ...first, startedAt, processPerBroker: true, brokers: reports.flatMap((r) => r.brokers) };
}
