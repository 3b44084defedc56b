import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { allCases, type CaseResult, type ConformanceReport } from '@switchyard/conformance';
import { intOption, numberOption, positionals, stringList, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { ProgressReporter, type SeenCase } from '../conformance/progress.js';
import { SPEC_VARIABLE, type SuiteSpec } from '../conformance/suite.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import { brokerName, shown } from '../url.js';

const suiteModule = join(dirname(fileURLToPath(import.meta.url)), '..', 'conformance', 'suite.js');

export const conformance: Command = {
  name: 'conformance',
  summary: 'run the shared conformance suite against a broker URL',
  options: {
    only: { type: 'string', multiple: true },
    report: { type: 'string' },
    'restart-cmd': { type: 'string' },
    name: { type: 'string' },
    'timeout-scale': { type: 'string' },
    'volume-messages': { type: 'string' },
  },
  help: `Usage: switchyard conformance <url> [options]

Runs the conformance suite (every case of @switchyard/conformance) against the broker at <url>,
with no test file of your own. Shows progress as it goes, then a table of pass / fail / n/a with
reasons, and writes the JSON report the README's broker matrix is generated from.

Options:
  --only <prefix>         run only cases whose id starts with this (repeatable, or comma-separated),
                          e.g. --only delivery. --only settlement.pull
  --report <file>         write the JSON report here (default: ./conformance-reports/<name>.json)
  --restart-cmd <cmd>     a shell command that restarts the broker keeping its data; enables the
                          lifecycle.broker-restart case (n/a without it)
  --name <name>           the report's name / matrix column (default from the URL: rabbitmq, kafka, ...)
  --timeout-scale <n>     multiply every case's timeout (slow brokers, slow CI); default 1
  --volume-messages <n>   messages in the volume and restart cases; default 10000
  -h, --help              this help

Exit codes: 0 every case passed or is n/a, 1 a case failed, 2 bad arguments.

Examples:
  switchyard conformance memory://
  switchyard conformance amqp://guest:guest@127.0.0.1:5672 --only delivery. --report rabbitmq.json
  switchyard conformance kafka://127.0.0.1:9092 --restart-cmd "systemctl restart kafka"`,

  async run(parsed, { out, cwd }) {
    const [url] = positionals(parsed, ['url']);
    const { values } = parsed;
    const name = stringOption(values, 'name') ?? brokerName(url!);
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new UsageError(`--name must be letters, digits, ".", "_" or "-" (it names the report file); got "${name}".`);
    const only = stringList(values, 'only')
      .flatMap((p) => p.split(','))
      .map((p) => p.trim())
      .filter(Boolean);
    if (only.length > 0 && !allCases.some((c) => only.some((p) => c.id.startsWith(p)))) {
      const groups = [...new Set(allCases.map((c) => `${c.id.split('.')[0]}.`))].join(' ');
      throw new UsageError(`--only ${only.join(',')} matches no case. Case ids start with one of: ${groups} (e.g. --only delivery.binary).`);
    }
    const reportFile = resolve(cwd, stringOption(values, 'report') ?? join('conformance-reports', `${name}.json`));
    const restartCommand = stringOption(values, 'restart-cmd');
    const timeoutScale = numberOption(values, 'timeout-scale', 1, 0.1, 100);
    const volumeMessages = intOption(values, 'volume-messages', 10_000, 100, 1_000_000);

    const work = await mkdtemp(join(tmpdir(), 'switchyard-conformance-'));
    try {
      const spec: SuiteSpec = { name, url: url!, reportDir: join(work, 'reports'), timeoutScale, volumeMessages };
      if (only.length > 0) spec.only = only;
      if (restartCommand !== undefined) spec.restartCommand = restartCommand;
      out.info(`Conformance suite against ${shown(url!)} (${only.length > 0 ? `cases starting with ${only.join(', ')}` : `all ${allCases.length} cases`})`);
      const reporter = await runSuite(work, spec);
      const report = await completeReport(join(spec.reportDir, `${name}.json`), name, reporter.seen, reporter.suiteErrors);
      await mkdir(dirname(reportFile), { recursive: true });
      await writeFile(reportFile, `${JSON.stringify(report, null, 2)}\n`);
      printSummary(out, report, reporter.suiteErrors, reportFile);
      return report.summary.fail === 0 && report.summary.total > 0 ? ExitCode.ok : ExitCode.failed;
    } finally {
      await rm(work, { recursive: true, force: true });
    }

    async function runSuite(work: string, spec: SuiteSpec): Promise<ProgressReporter> {
      const entry = join(work, 'switchyard.conformance.test.mjs');
      await writeFile(entry, `import { runFromEnvironment } from ${JSON.stringify(pathToFileURL(suiteModule).href)};\nrunFromEnvironment();\n`);
      const reporter = new ProgressReporter(out, name);
      const previous = process.env[SPEC_VARIABLE];
      process.env[SPEC_VARIABLE] = JSON.stringify(spec);
      try {
        const { startVitest } = await import('vitest/node');
        const vitest = await startVitest(
          'test',
          [],
          { config: false, root: work, include: ['switchyard.conformance.test.mjs'], reporters: [reporter], watch: false, maxConcurrency: 8, hookTimeout: 120_000 },
          { logLevel: 'silent', cacheDir: join(work, '.vite') },
        );
        await vitest.close();
      } finally {
        if (previous === undefined) delete process.env[SPEC_VARIABLE];
        else process.env[SPEC_VARIABLE] = previous;
      }
      return reporter;
    }
  },
};

/**
 * The suite's own report, with every case vitest saw but the suite never recorded (a timeout, a
 * failing setup such as an unreachable broker) added as failed: the report must not look better
 * than the run was.
 */
async function completeReport(file: string, name: string, seen: readonly SeenCase[], suiteErrors: readonly string[]): Promise<ConformanceReport> {
  let report: ConformanceReport;
  try {
    report = JSON.parse(await readFile(file, 'utf8')) as ConformanceReport;
  } catch {
    report = { name, transport: 'unknown', generatedAt: new Date().toISOString(), capabilities: undefined, summary: { pass: 0, fail: 0, na: 0, total: 0 }, cases: [] };
  }
  const recorded = new Set(report.cases.map((c) => c.id));
  for (const c of seen) {
    if (recorded.has(c.id)) continue;
    const reason = c.error === 'did not run' && suiteErrors.length > 0 ? `did not run: ${suiteErrors[0]}` : (c.error ?? 'did not record a result');
    report.cases.push({ id: c.id, title: c.title, status: 'fail', reason, durationMs: c.durationMs });
  }
  report.cases.sort((a, b) => a.id.localeCompare(b.id));
  const count = (status: CaseResult['status']) => report.cases.filter((c) => c.status === status).length;
  report.summary = { pass: count('pass'), fail: count('fail'), na: count('n/a'), total: report.cases.length };
  return report;
}

function printSummary(out: Output, report: ConformanceReport, suiteErrors: readonly string[], reportFile: string): void {
  const { green, red, yellow, bold } = out.color;
  const order: Record<CaseResult['status'], number> = { fail: 0, 'n/a': 1, pass: 2 };
  const cases = [...report.cases].sort((a, b) => order[a.status] - order[b.status] || a.id.localeCompare(b.id));
  const label = (s: CaseResult['status']) => (s === 'pass' ? green('pass') : s === 'fail' ? red('FAIL') : yellow('n/a'));
  out.line();
  for (const row of table([[bold('status'), bold('case'), bold('reason')], ...cases.map((c) => [label(c.status), c.id, c.reason ?? ''])])) out.line(row);
  for (const err of new Set(suiteErrors)) out.line(red(`suite error: ${err}`));
  const { pass, fail, na, total } = report.summary;
  out.line();
  out.line(`${report.name} (${report.transport}): ${total} case${total === 1 ? '' : 's'}, ${green(`${pass} passed`)}, ${fail > 0 ? red(`${fail} failed`) : '0 failed'}, ${na} n/a`);
  out.line(`report: ${reportFile}`);
}
