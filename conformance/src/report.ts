import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Capabilities } from '@switchyard/core';
import type { ConformanceOptions } from './harness.js';

export interface CaseResult {
  id: string;
  title: string;
  status: 'pass' | 'fail' | 'n/a';
  reason?: string;
  durationMs: number;
}

/** Machine-readable result of one run; the README matrix is generated from these. */
export interface ConformanceReport {
  name: string;
  transport: string;
  generatedAt: string;
  capabilities: Capabilities | undefined;
  summary: Summary;
  cases: CaseResult[];
}

/** Pass/fail/n/a counts of a run. */
export interface Summary {
  pass: number;
  fail: number;
  na: number;
  total: number;
}

/** What one suite run recorded, case by case; written as `<dir>/<name>.json` (both suites). */
export class Results {
  private readonly results: CaseResult[] = [];

  record(c: { readonly id: string; readonly title: string }, status: CaseResult['status'], durationMs: number, reason?: string): void {
    const result: CaseResult = { id: c.id, title: c.title, status, durationMs: Math.round(durationMs) };
    if (reason !== undefined) result.reason = reason;
    this.results.push(result);
  }

  /** Cases registered but never recorded timed out: they count as failed. */
  failUnfinished(registered: readonly { readonly id: string; readonly title: string }[]): void {
    for (const c of registered) {
      if (!this.results.some((r) => r.id === c.id)) this.record(c, 'fail', 0, 'did not finish (timed out)');
    }
  }

  protected async writeTo<F extends object>(dir: string, name: string, fields: F): Promise<string> {
    await mkdir(dir, { recursive: true });
    const cases = [...this.results].sort((a, b) => a.id.localeCompare(b.id));
    const count = (status: CaseResult['status']) => cases.filter((c) => c.status === status).length;
    const summary: Summary = { pass: count('pass'), fail: count('fail'), na: count('n/a'), total: cases.length };
    const file = join(dir, `${name}.json`);
    await writeFile(file, `${JSON.stringify({ name, ...fields, generatedAt: new Date().toISOString(), summary, cases }, null, 2)}\n`);
    return file;
  }
}

/** The report folder: options.reportDir, else $SWITCHYARD_CONFORMANCE_REPORT_DIR, else ./conformance-reports. */
export function reportFolder(reportDir: string | undefined): string {
  return resolve(reportDir ?? process.env['SWITCHYARD_CONFORMANCE_REPORT_DIR'] ?? 'conformance-reports');
}

export class Report extends Results {
  capabilities: Capabilities | undefined;
  transport = 'unknown';

  constructor(private readonly options: ConformanceOptions) {
    super();
  }

  write(): Promise<string> {
    return this.writeTo(reportFolder(this.options.reportDir), this.options.name, { transport: this.transport, capabilities: this.capabilities });
  }
}
