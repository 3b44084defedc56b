import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CaseResult } from '../report.js';
import type { StoreCase } from './case.js';

/** Machine-readable result of one store suite run, written to `<reportDir>/stores/<name>.json`. */
export interface StoreConformanceReport {
  name: string;
  generatedAt: string;
  summary: { pass: number; fail: number; na: number; total: number };
  cases: CaseResult[];
}

/**
 * Store reports live in a `stores/` subfolder so the broker matrix (which reads every JSON file
 * at the top of the report folder) never mistakes one for a transport's report.
 */
export class StoreReport {
  private readonly results: CaseResult[] = [];

  constructor(
    private readonly name: string,
    private readonly reportDir: string | undefined,
  ) {}

  record(c: StoreCase, status: CaseResult['status'], durationMs: number, reason?: string): void {
    const result: CaseResult = { id: c.id, title: c.title, status, durationMs: Math.round(durationMs) };
    if (reason !== undefined) result.reason = reason;
    this.results.push(result);
  }

  /** `registered`: every case the suite ran; one without a result timed out and counts as failed. */
  async write(registered: readonly StoreCase[]): Promise<string> {
    for (const c of registered) {
      if (!this.results.some((r) => r.id === c.id)) this.results.push({ id: c.id, title: c.title, status: 'fail', reason: 'did not finish (timed out)', durationMs: 0 });
    }
    const dir = join(resolve(this.reportDir ?? process.env['SWITCHYARD_CONFORMANCE_REPORT_DIR'] ?? 'conformance-reports'), 'stores');
    await mkdir(dir, { recursive: true });
    const cases = [...this.results].sort((a, b) => a.id.localeCompare(b.id));
    const report: StoreConformanceReport = {
      name: this.name,
      generatedAt: new Date().toISOString(),
      summary: {
        pass: cases.filter((c) => c.status === 'pass').length,
        fail: cases.filter((c) => c.status === 'fail').length,
        na: cases.filter((c) => c.status === 'n/a').length,
        total: cases.length,
      },
      cases,
    };
    const file = join(dir, `${this.name}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    return file;
  }
}
