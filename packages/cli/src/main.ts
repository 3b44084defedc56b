import { createInterface } from 'node:readline/promises';
import { isSwitchyardError } from '@switchyard/core';
import { parse } from './args.js';
import type { Command, CommandContext } from './command.js';
import { asyncapi } from './commands/asyncapi.js';
import { bench } from './commands/bench.js';
import { conformance } from './commands/conformance.js';
import { demo } from './commands/demo.js';
import { dlq } from './commands/dlq.js';
import { health } from './commands/health.js';
import { CommandError, ExitCode, UsageError, type ExitCodeValue } from './exit-codes.js';
import { createOutput, type Streams } from './output.js';

export const commands: readonly Command[] = [conformance, dlq, asyncapi, health, bench, demo];

const overview = `Usage: switchyard <command> [arguments] [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n')}

Run \`switchyard <command> --help\` for a command's options and examples.

Broker URLs are the ones createBus takes (memory://, amqp://, kafka://, nats://, sqs://, gcppubsub://);
the adapter package for the scheme must be installed next to the CLI (e.g. npm i @switchyard/amqp).
Passwords and secret URL options are never printed.

Exit codes: 0 ok · 1 a check failed (conformance case, unhealthy broker, dead letters not redriven,
purge declined) · 2 bad command line · 3 error from Switchyard or the broker (bad URL, unreachable,
missing adapter, no contract in the module).
Colour only on a terminal; NO_COLOR turns it off. Progress lines are plain outside a terminal (CI).`;

/** Run `switchyard` with these arguments; resolves to the exit code (never exits the process itself). */
export async function main(
  argv: readonly string[],
  streams: Streams = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env },
): Promise<ExitCodeValue> {
  const out = createOutput(streams);
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? out.info : out.line)(overview);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    out.line((createRequire(import.meta.url)('../package.json') as { version: string }).version);
    return ExitCode.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    out.info(`Unknown command "${name}". Commands: ${commands.map((c) => c.name).join(', ')}. Run switchyard --help.`);
    return ExitCode.usage;
  }
  const context: CommandContext = { out, env: streams.env, cwd: process.cwd(), confirm: (question) => ask(streams, question) };
  try {
    const parsed = parse(rest, command.options);
    if (parsed.values['help'] === true) {
      out.line(command.help);
      return ExitCode.ok;
    }
    return await command.run(parsed, context);
  } catch (err) {
    out.clearStatus();
    const { red } = out.color;
    if (err instanceof UsageError) {
      out.info(`${red('error:')} ${err.message}\nRun \`switchyard ${command.name} --help\` for usage and examples.`);
      return ExitCode.usage;
    }
    if (err instanceof CommandError) {
      out.info(`${red('error:')} ${err.message}`);
      return err.exitCode;
    }
    // Switchyard's typed errors say what went wrong and what to do, with credentials already removed.
    if (isSwitchyardError(err)) {
      out.info(`${red('error:')} ${err.message} ${out.color.dim(`(${err.code})`)}`);
      return ExitCode.error;
    }
    out.info(`${red('error:')} ${err instanceof Error ? err.message : String(err)}`);
    return ExitCode.error;
  }
}

async function ask(streams: Streams, question: string): Promise<boolean> {
  const rl = createInterface({ input: streams.stdin, output: streams.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
