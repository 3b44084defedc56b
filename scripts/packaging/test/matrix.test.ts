/**
 * npm run matrix never drops a column it cannot refresh: after a run that wrote only some
 * reports, the README keeps the other brokers' columns as they were and the output says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { root } from '../../packages.mjs';

const repo = root;
const work = mkdtempSync(join(tmpdir(), 'switchyard-matrix-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const readme = [
  '# x',
  '<!-- matrix:start -->',
  '| | **memory** | **kafka** |',
  '| --- | :---: | :---: |',
  '| conformance | 1 ✅ | 2 ✅ 1 n/a |',
  '| ordering | perKey | perKey |',
  '',
  '<details><summary>Every case</summary>',
  '',
  '| | **memory** | **kafka** |',
  '| --- | :---: | :---: |',
  '| `delivery.binary` | ✅ | ✅ |',
  '| `lifecycle.broker-restart` | n/a: transport is not persistent | ✅ |',
  '',
  '</details>',
  '<!-- matrix:end -->',
  '',
].join('\n');

function matrix(reports: object[]) {
  const dir = join(work, `reports-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  for (const r of reports) writeFileSync(join(dir, `${(r as { name: string }).name}.json`), JSON.stringify(r));
  const file = join(dir, 'README.md');
  writeFileSync(file, readme);
  const result = spawnSync(process.execPath, [join(repo, 'scripts/matrix.mjs')], {
    encoding: 'utf8',
    env: { ...process.env, SWITCHYARD_CONFORMANCE_REPORT_DIR: dir, SWITCHYARD_MATRIX_README: file },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, readme: readFileSync(file, 'utf8') };
}

const memory = {
  name: 'memory',
  summary: { pass: 3, fail: 0, na: 0 },
  capabilities: { ordering: 'perKey' },
  cases: [
    { id: 'delivery.binary', status: 'pass' },
    { id: 'delivery.empty-and-text', status: 'pass' },
    { id: 'lifecycle.broker-restart', status: 'na', reason: 'transport is not persistent' },
  ],
};

it('keeps the columns whose report is missing and says so', () => {
  const result = matrix([memory]);
  expect(result.status, result.stderr).toBe(0);
  expect(result.stdout).toContain('Kept as they were (no report in');
  expect(result.stdout).toContain(': kafka.');
  const lines = result.readme.split('\n');
  expect(lines).toContain('| | **memory** | **kafka** |');
  expect(lines).toContain('| conformance | 3 ✅ | 2 ✅ 1 n/a |');
  expect(lines).toContain('| ordering | perKey | perKey |');
  expect(lines).toContain('| `delivery.binary` | ✅ | ✅ |');
  expect(lines).toContain('| `delivery.empty-and-text` | ✅ |   |'); // a case the kept column never reported
  expect(lines).toContain('| `lifecycle.broker-restart` | n/a: transport is not persistent | ✅ |');
});

it('refreshes every column that has a report, adding new ones', () => {
  const kafka = { ...memory, name: 'kafka', summary: { pass: 2, fail: 1, na: 0 }, cases: [{ id: 'delivery.binary', status: 'fail' }] };
  const nats = { ...memory, name: 'nats', summary: { pass: 1, fail: 0, na: 0 }, cases: [{ id: 'delivery.binary', status: 'pass' }] };
  const result = matrix([memory, kafka, nats]);
  expect(result.status, result.stderr).toBe(0);
  expect(result.stdout).not.toContain('Kept as they were');
  expect(result.readme).toContain('| | **memory** | **kafka** | **nats** |');
  expect(result.readme).toContain('| conformance | 3 ✅ | 2 ✅ 1 ❌ | 1 ✅ |');
  expect(result.readme).toContain('| `delivery.binary` | ✅ | ❌ | ✅ |');
});
