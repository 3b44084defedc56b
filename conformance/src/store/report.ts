import { join } from 'node:path';
import { type CaseResult, reportFolder, Results, type Summary } from '../report.js';
import type { StoreCase } from './case.js';

/** Machine-readable result of one store suite run, written to `<reportDir>/stores/<name>.json`. */
export interface StoreConformanceReport {
  name: string;
  generatedAt: string;
  summary: Summary;
  cases: CaseResult[];
}

/**
 * Store reports live in a `stores/` subfolder so the broker matrix (which reads every JSON file
 * at the top of the report folder) never mistakes one for a transport's report.
 */
export class StoreReport extends Results {
  constructor(
    private readonly name: string,
    private readonly reportDir: string | undefined,
  ) {
    super();
  }

  /** `registered`: every case the suite ran; one without a result timed out and counts as failed. */
  write(registered: readonly StoreCase[]): Promise<string> {
    this.failUnfinished(registered);
    return this.writeTo(join(reportFolder(this.reportDir), 'stores'), this.name, {});
  }
}
