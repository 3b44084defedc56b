import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cliRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = join(cliRoot, '..', '..');
const bin = join(cliRoot, 'dist', 'bin.js');

export const RABBITMQ_URL = process.env['SWITCHYARD_TEST_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
export const KAFKA_URL = process.env['SWITCHYARD_TEST_KAFKA_URL'] ?? 'kafka://127.0.0.1:9092';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run the built `switchyard` binary as a child process, stdio piped (so: no terminal, as in CI).
 * `env` is added to a copy of this process's environment without CI/NO_COLOR/SWITCHYARD_SERVICE,
 * so a test decides those itself.
 */
export function runCli(args: readonly string[], options: { env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first (the tests drive the built binary).`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['CI', 'NO_COLOR', 'FORCE_COLOR', 'SWITCHYARD_SERVICE', 'SWITCHYARD_URL']) delete env[name];
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? cliRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchyard ${args.join(' ')} did not finish within ${options.timeoutMs ?? 60_000} ms.\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The password of a URL, to check it appears nowhere. */
export function passwordOf(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

/** The URL with a query option added. */
export function urlWith(url: string, option: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${option}`;
}

/**
 * Run the binary on a pseudo-terminal (util-linux `script`), as a person at a terminal would;
 * `input` is typed into it. Output is what the terminal showed (stdout and stderr together).
 */
export function runOnTerminal(
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; text: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
  for (const name of ['CI', 'NO_COLOR', 'FORCE_COLOR', 'SWITCHYARD_SERVICE']) delete env[name];
  Object.assign(env, options.env);
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, bin, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchyard ${args.join(' ')} on a terminal did not finish within ${options.timeoutMs ?? 60_000} ms.\n${text}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, text });
    });
    if (options.input !== undefined) child.stdin.write(options.input);
  });
}
