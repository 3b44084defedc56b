import type { Reporter, TestCase, TestModule } from 'vitest/node';
import type { Output } from '../output.js';

/** How vitest saw one case: the report's fallback for cases the suite never recorded. */
export interface SeenCase {
  id: string;
  title: string;
  passed: boolean;
  error?: string;
  durationMs: number;
}

/**
 * A vitest reporter that shows the run as it goes: on a terminal one line rewritten in place
 * (done/total, failures so far, the case that just finished); elsewhere one plain line per case.
 */
export class ProgressReporter implements Reporter {
  readonly seen: SeenCase[] = [];
  /** Errors outside any case: a failing beforeAll (broker unreachable), a module that failed to load. */
  readonly suiteErrors: string[] = [];
  private total = 0;
  private failed = 0;

  constructor(
    private readonly out: Output,
    private readonly name: string,
  ) {}

  onTestModuleCollected(module: TestModule): void {
    this.total += [...module.children.allTests()].length;
    this.draw();
  }

  onTestCaseResult(test: TestCase): void {
    const result = test.result();
    const { id, title } = splitName(test.name);
    const durationMs = Math.round(test.diagnostic()?.duration ?? 0);
    const passed = result.state === 'passed';
    const error = result.state === 'failed' ? firstLine(result.errors?.[0]?.message) : result.state === 'skipped' ? 'did not run' : undefined;
    this.seen.push({ id, title, passed, durationMs, ...(error === undefined ? {} : { error }) });
    if (!passed) this.failed += 1;
    if (this.out.live) this.draw(id);
    else {
      const { green, red } = this.out.color;
      this.out.info(`${passed ? green('ok  ') : red('FAIL')} ${id}${passed ? '' : `: ${error}`} ${this.out.color.dim(`(${durationMs} ms)`)}`);
    }
  }

  onTestRunEnd(modules: readonly TestModule[], unhandled: readonly { message?: string }[]): void {
    for (const module of modules) {
      for (const err of module.errors()) this.suiteErrors.push(firstLine(err.message));
      for (const suite of module.children.allSuites()) for (const err of suite.errors()) this.suiteErrors.push(firstLine(err.message));
    }
    for (const err of unhandled) this.suiteErrors.push(firstLine(err.message));
    this.out.clearStatus();
  }

  private draw(last?: string): void {
    const done = this.seen.length;
    const { red } = this.out.color;
    const failed = this.failed > 0 ? ` · ${red(`${this.failed} failed`)}` : '';
    this.out.status(`conformance ${this.name}: ${done}/${this.total || '?'} cases${failed}${last ? ` · ${last}` : ''}`);
  }
}

/** Case tests are named "<id>: <title>" by runConformance. */
function splitName(name: string): { id: string; title: string } {
  const colon = name.indexOf(': ');
  return colon < 0 ? { id: name, title: name } : { id: name.slice(0, colon), title: name.slice(colon + 2) };
}

function firstLine(message: string | undefined): string {
  return (message ?? 'unknown error').split('\n')[0]!.trim();
}
