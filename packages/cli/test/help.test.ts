import { describe, expect, it } from 'vitest';
import { commands } from '../src/main.js';
import { runCli } from './helpers.js';

describe('switchyard --help and usage errors', () => {
  it('lists every command with the exit codes', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    for (const c of commands) expect(stdout).toContain(`  ${c.name}`);
    expect(stdout).toMatch(/Exit codes: 0 ok · 1 a check failed/);
  });

  it.each(commands.map((c) => c.name))('%s --help shows usage and examples, exit 0', async (name) => {
    const { code, stdout } = await runCli([name, '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: switchyard ${name}`));
    expect(stdout).toMatch(/\nExamples:\n {2}switchyard /);
    expect(stdout).toMatch(/Exit codes:/);
  });

  it('no command: the overview on stderr, exit 2', async () => {
    const { code, stdout, stderr } = await runCli([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/Usage: switchyard <command>/);
  });

  it('an unknown command or option, or a missing argument, is a usage error (exit 2) that says what to do', async () => {
    const unknown = await runCli(['conformence', 'memory://']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown command "conformence"\. Commands: conformance, dlq/);

    const option = await runCli(['health', 'memory://', '--colour']);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/--colour/);
    expect(option.stderr).toMatch(/Run `switchyard health --help`/);

    const missing = await runCli(['dlq', 'list', 'memory://']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Missing <topic>/);

    const action = await runCli(['dlq', 'replay', 'memory://', 'orders']);
    expect(action.code).toBe(2);
    expect(action.stderr).toMatch(/Unknown dlq action "replay": use one of list, show, redrive, purge/);
  });

  it('dlq without a group (and no SWITCHYARD_SERVICE) asks for one, exit 2', async () => {
    const { code, stderr } = await runCli(['dlq', 'list', 'memory://', 'orders']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/Dead letters are kept for each consumer group that subscribes to the topic: pass --group/);
  });

  it('redrive --to the dead-letter topic itself is refused before connecting (it would loop), exit 2', async () => {
    const { code, stderr } = await runCli(['dlq', 'redrive', 'amqp://guest:guest@127.0.0.1:1', 'orders', '-g', 'billing', '--to', 'orders.dlq']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--to orders\.dlq is the dead-letter topic being read/);
  });

  it('a typed Switchyard error prints its message and code, exit 3', async () => {
    const { code, stderr } = await runCli(['health', 'nosuch://host']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/Unknown URL scheme "nosuch:\/\/".*\(ERR_CONFIGURATION\)/);
  });
});
