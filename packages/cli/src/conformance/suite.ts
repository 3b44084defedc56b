/**
 * The test module `switchyard conformance` hands to vitest: it registers the shared suite with
 * the options the command line gave, passed in the environment (vitest runs this in a worker).
 */
import { spawn } from 'node:child_process';
import { runConformance, type ConformanceOptions } from '@switchyard/conformance';

export const SPEC_VARIABLE = 'SWITCHYARD_CLI_CONFORMANCE';

export interface SuiteSpec {
  name: string;
  url: string;
  reportDir: string;
  only?: string[];
  timeoutScale?: number;
  volumeMessages?: number;
  restartCommand?: string;
}

export function runFromEnvironment(): void {
  const raw = process.env[SPEC_VARIABLE];
  if (raw === undefined) throw new Error(`${SPEC_VARIABLE} is not set: this module is run by \`switchyard conformance\`, not on its own.`);
  const spec = JSON.parse(raw) as SuiteSpec;
  const options: ConformanceOptions = { name: spec.name, url: spec.url, reportDir: spec.reportDir };
  if (spec.only !== undefined) options.only = spec.only;
  if (spec.timeoutScale !== undefined) options.timeoutScale = spec.timeoutScale;
  if (spec.volumeMessages !== undefined) options.volumeMessages = spec.volumeMessages;
  const restart = spec.restartCommand;
  if (restart !== undefined) options.restartBroker = () => runShell(restart);
  runConformance(options);
}

/** Run the user's restart command in a shell; its output goes to our stderr, a non-zero exit rejects. */
function runShell(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (err) => reject(new Error(`--restart-cmd could not be started: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`--restart-cmd exited with ${signal ?? `code ${code}`}; it must restart the broker keeping its data and exit 0.`));
    });
  });
}
