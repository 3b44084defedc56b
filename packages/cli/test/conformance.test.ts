import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConformanceReport } from '@switchyard/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KAFKA_URL, passwordOf, RABBITMQ_URL, repoRoot, runCli } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-cli-conformance-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const readReport = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as ConformanceReport;

describe('switchyard conformance', () => {
  it('on memory: plain progress lines (no terminal), a summary table with the n/a reason, exit 0, and the report the matrix reads', async () => {
    const file = join(dir, 'memory.json');
    const { code, stdout, stderr } = await runCli(['conformance', 'memory://', '--only', 'delivery.', '--report', file]);
    expect(code).toBe(0);
    // Not a terminal: one plain line per case, no cursor control, no colour.
    expect(stderr).toMatch(/^ok {3}delivery\.binary \(\d+ ms\)$/m);
    expect(stderr + stdout).not.toContain('\u001b');
    expect(stdout).toMatch(/^status +case +reason$/m);
    expect(stdout).toMatch(/^n\/a +delivery\.long-delay-restart +transport delays natively/m);
    expect(stdout).toMatch(/^pass +delivery\.roundtrip-100$/m);
    const report = await readReport(file);
    // The shape scripts/matrix.mjs reads: name, capabilities, summary, cases with id/status/reason.
    expect(report.name).toBe('memory');
    expect(report.transport).toBe('memory');
    expect(report.capabilities?.ordering).toBe('perKey');
    expect(report.cases.every((c) => c.id.startsWith('delivery.'))).toBe(true);
    expect(report.summary).toEqual({ pass: report.summary.total - 1, fail: 0, na: 1, total: report.cases.length });
    expect(report.cases.find((c) => c.id === 'delivery.long-delay-restart')).toMatchObject({ status: 'n/a', reason: expect.stringMatching(/natively/) });
    expect(stdout).toContain(`memory (memory): ${report.summary.total} cases, ${report.summary.pass} passed, 0 failed, 1 n/a`);

    // npm run matrix makes the README's column from exactly this file.
    const reports = join(dir, 'matrix-reports');
    await mkdir(reports);
    await copyFile(file, join(reports, 'memory.json'));
    const readme = join(dir, 'README.md');
    await writeFile(readme, '# x\n<!-- matrix:start -->\n<!-- matrix:end -->\n');
    const matrix = spawnSync(process.execPath, [join(repoRoot, 'scripts/matrix.mjs')], {
      encoding: 'utf8',
      env: { ...process.env, SWITCHYARD_CONFORMANCE_REPORT_DIR: reports, SWITCHYARD_MATRIX_README: readme },
    });
    expect(matrix.status, matrix.stderr).toBe(0);
    const table = await readFile(readme, 'utf8');
    expect(table).toContain(`| conformance | ${report.summary.pass} ✅ 1 n/a |`);
    expect(table).toContain('| `delivery.long-delay-restart` | n/a: transport delays natively: nothing is held in the consumer |');
  });

  it('a case that fails (memory playing a broker with a 2 KiB message limit: the 4 KiB binary case cannot pass) → FAIL row with the reason, exit 1', async () => {
    const file = join(dir, 'small.json');
    const { code, stdout } = await runCli([
      'conformance',
      'memory://small?maxPayloadBytes=2048',
      '--only',
      'delivery.binary,delivery.empty-and-text',
      '--name',
      'memory-2k',
      '--report',
      file,
    ]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL +delivery\.binary +Message for "cf\.bin\.[^"]+" is \d+ bytes; the memory transport accepts at most 2048/m);
    expect(stdout).toMatch(/^pass +delivery\.empty-and-text$/m);
    expect(stdout).toContain('memory-2k (memory): 2 cases, 1 passed, 1 failed, 0 n/a');
    const report = await readReport(file);
    expect(report.name).toBe('memory-2k');
    expect(report.summary).toEqual({ pass: 1, fail: 1, na: 0, total: 2 });
    expect(report.cases.find((c) => c.id === 'delivery.binary')?.status).toBe('fail');
  });

  it('an unreachable broker: every case fails saying why, exit 1, and the password appears nowhere', async () => {
    const url = 'amqp://guest:s3cret-pa55@127.0.0.1:1';
    const file = join(dir, 'unreachable.json');
    const { code, stdout, stderr } = await runCli(['conformance', url, '--only', 'delivery.binary', '--report', file]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL +delivery\.binary +did not run: Cannot connect to RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1/m);
    const report = await readFile(file, 'utf8');
    expect(JSON.parse(report).summary).toEqual({ pass: 0, fail: 1, na: 0, total: 1 });
    for (const text of [stdout, stderr, report]) expect(text).not.toContain(passwordOf(url));
  });

  it('--only that matches no case is a usage error listing the id prefixes, exit 2', async () => {
    const { code, stderr } = await runCli(['conformance', 'memory://', '--only', 'deliveries.']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--only deliveries\. matches no case\. Case ids start with one of: .*delivery\. .*settlement\./);
  });

  it.each([
    ['rabbitmq', RABBITMQ_URL],
    ['kafka', KAFKA_URL],
  ])('on %s: a subset passes, exit 0, named after the broker', async (name, url) => {
    const file = join(dir, `${name}.json`);
    const { code, stdout } = await runCli(['conformance', url, '--only', 'delivery.binary,settlement.non-retryable', '--report', file], { timeoutMs: 90_000 });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^pass +delivery\.binary$/m);
    expect(stdout).toMatch(/^pass +settlement\.non-retryable$/m);
    const report = await readReport(file);
    expect(report.name).toBe(name);
    expect(report.summary).toEqual({ pass: 2, fail: 0, na: 0, total: 2 });
  });

  it('--restart-cmd runs the command for the restart case (a command that fails fails the case; the shared broker is never restarted)', async () => {
    const marker = join(dir, 'restarted');
    const { code, stdout } = await runCli(
      [
        'conformance',
        RABBITMQ_URL,
        '--only',
        'lifecycle.broker-restart',
        '--volume-messages',
        '100',
        '--restart-cmd',
        `echo called >> '${marker}'; exit 7`,
        '--report',
        join(dir, 'restart.json'),
      ],
      { timeoutMs: 90_000 },
    );
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL +lifecycle\.broker-restart +--restart-cmd exited with code 7; it must restart the broker keeping its data and exit 0\.$/m);
    expect((await readFile(marker, 'utf8')).trim()).toBe('called');
  });
});
