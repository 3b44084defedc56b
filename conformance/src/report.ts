import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Capabilities } from '@switchyard/core';
import type { ConformanceCase } from './case.js';
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
  summary: { pass: number; fail: number; na: number; total: number };
  cases: CaseResult[];
}

export class Report {
  capabilities: Capabilities | undefined;
  transport = 'unknown';
  private readonly results: CaseResult[] = [];

  constructor(private readonly options: ConformanceOptions) {}

  record(c: ConformanceCase, status: CaseResult['status'], durationMs: number, reason?: string): void {
    const result: CaseResult = { id: c.id, title: c.title, status, durationMs: Math.round(durationMs) };
    if (reason !== undefined) result.reason = reason;
    this.results.push(result);
  }

  async write(): Promise<string> {
    const dir = resolve(this.options.reportDir ?? process.env['SWITCHYARD_CONFORMANCE_REPORT_DIR'] ?? 'conformance-reports');
    await mkdir(dir, { recursive: true });
    const cases = [...this.results].sort((a, b) => a.id.localeCompare(b.id));
    const report: ConformanceReport = {
      name: this.options.name,
      transport: this.transport,
      generatedAt: new Date().toISOString(),
      capabilities: this.capabilities,
      summary: {
        pass: cases.filter((c) => c.status === 'pass').length,
        fail: cases.filter((c) => c.status === 'fail').length,
        na: cases.filter((c) => c.status === 'n/a').length,
        total: cases.length,
      },
      cases,
    };
    const file = join(dir, `${this.options.name}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    return file;
  }
}
