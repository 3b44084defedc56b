#!/usr/bin/env node
/**
 * `npm test`: build, bring up the real brokers, run every test suite, print one summary line.
 *
 * Stages run one after another because broker suites restart brokers (restart cases) and must
 * not disturb each other; inside a stage vitest runs files in parallel where it is safe.
 *   0. lint: `biome check .` (formatting + lint rules, one tool for the whole repo)
 *   1. unit: core unit tests + the conformance suite on memory (no broker needed)
 *   1b. packaging: npm pack every publishable package, install the tarballs in a fresh app outside
 *      the repo, compile + run the README quick start, require() from CommonJS, publint + attw
 *      (no broker; needs the npm registry for third-party dependencies; about 45 s)
 *   2. brokers: `scripts/brokers up` (installs and starts what is missing; fails loudly)
 *   3. each broker project: smoke tests of every broker, then each workspace marked
 *      "switchyard": { "testNeedsBrokers": true } in its package.json (the Redis and PostgreSQL
 *      stores, the outbox and its example, the bench's cleanup test), then each adapter's suites
 *
 * Environment:
 *   SWITCHYARD_TEST_ONLY=core,amqp   run only these vitest projects (names from their configs)
 *   SWITCHYARD_BROKERS_SKIP_UP=1     don't run scripts/brokers up (you point SWITCHYARD_TEST_*_URL at your own)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.env.SWITCHYARD_TEST_ONLY?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const resultsDir = join(root, '.vitest-results');
mkdirSync(resultsDir, { recursive: true });

function run(command, args, options = {}) {
  console.log(`\n$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

/** Vitest projects in the order they run; `broker: true` ones need scripts/brokers up first. */
function projects() {
  const withConfig = (parent) =>
    existsSync(join(root, parent))
      ? readdirSync(join(root, parent))
          .sort()
          .map((d) => `${parent}/${d}`)
          .filter((d) => existsSync(join(root, d, 'vitest.config.ts')))
      : [];
  // No broker needed: core (memory transport), the conformance suite on memory, the examples on memory.
  // Workspaces whose tests need a server (Redis, PostgreSQL, a broker) say so in package.json —
  // "switchyard": { "testNeedsBrokers": true } — and run as stages of their own after
  // `scripts/brokers up`, one file at a time (their lease/TTL cases time real server clocks).
  const candidates = [...withConfig('packages'), 'conformance', ...withConfig('examples'), ...(existsSync(join(root, 'bench/vitest.config.ts')) ? ['bench'] : [])];
  const list = [{ name: 'unit', dirs: candidates.filter((d) => !needsBrokers(d)), broker: false, parallel: true }];
  // No broker either, but after unit and on its own: npm pack's prepack empties and rebuilds each package's dist.
  if (existsSync(join(root, 'scripts/packaging/vitest.config.ts'))) list.push({ name: 'packaging', dirs: ['scripts/packaging'], broker: false, parallel: false });
  if (existsSync(join(root, 'scripts/smoke/vitest.config.ts'))) list.push({ name: 'brokers', dirs: ['scripts/smoke'], broker: true, parallel: false });
  for (const dir of candidates.filter(needsBrokers)) list.push({ name: dir.slice(dir.lastIndexOf('/') + 1), dirs: [dir], broker: true, parallel: false });
  for (const dir of withConfig('adapters')) list.push({ name: dir.slice('adapters/'.length), dirs: [dir], broker: true, parallel: false });
  return only ? list.filter((p) => only.includes(p.name)) : list;
}

// Formatting and lint first: cheap, and a failure is reported with the test results instead of hiding them.
const lintStatus = run('npx', ['biome', 'check', '.']);

let status = run('npm', ['run', 'build', '--silent']);
if (status !== 0) {
  console.error('\nBuild failed; no tests ran.');
  process.exit(status);
}

const stages = projects();
if (stages.some((p) => p.broker) && process.env.SWITCHYARD_BROKERS_SKIP_UP !== '1') {
  status = run(join(root, 'scripts/brokers'), ['up']);
  if (status !== 0) {
    console.error('\nscripts/brokers up failed (see the log tail above). Broker tests cannot run; failing the test run.');
    process.exit(status);
  }
}

const totals = { passed: 0, failed: 0, files: 0 };
const failedStages = lintStatus === 0 ? [] : [`lint (biome check exit ${lintStatus}; npm run format fixes formatting)`];
for (const stage of stages) {
  const outputFile = join(resultsDir, `${stage.name}.json`);
  const args = ['vitest', 'run', ...stage.dirs.flatMap((d) => ['--project', projectName(d)]), '--reporter=default', '--reporter=json', `--outputFile.json=${outputFile}`];
  if (!stage.parallel) args.push('--no-file-parallelism');
  const code = run('npx', args);
  const counts = readCounts(outputFile);
  totals.passed += counts.passed;
  totals.failed += counts.failed;
  if (code !== 0 || counts.failed > 0 || counts.passed === 0) failedStages.push(`${stage.name} (exit ${code}, ${counts.passed} passed, ${counts.failed} failed)`);
}

function needsBrokers(dir) {
  const file = join(root, dir, 'package.json');
  return existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).switchyard?.testNeedsBrokers === true;
}

function projectName(dir) {
  const config = readFileSync(join(root, dir, 'vitest.config.ts'), 'utf8');
  const match = /name:\s*'([^']+)'/.exec(config);
  if (!match) throw new Error(`${dir}/vitest.config.ts has no test.name`);
  return match[1];
}

function readCounts(file) {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8'));
    return { passed: json.numPassedTests ?? 0, failed: (json.numFailedTests ?? 0) + (json.numFailedTestSuites ?? 0) };
  } catch {
    return { passed: 0, failed: 1 };
  }
}

console.log('');
if (failedStages.length) console.log(`Failed stages: ${failedStages.join('; ')}`);
console.log(`Tests: ${totals.passed} passed, ${totals.failed} failed`);
process.exit(failedStages.length ? 1 : 0);
