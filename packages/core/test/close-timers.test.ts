/**
 * A closed bus leaves no timer behind: a Node process whose bus is closed exits at once, not when
 * some forgotten timeout (a drain limit, a flush deadline) runs out. Run in a child process on the
 * built package, where nothing else holds timers, and read from `process.getActiveResourcesInfo()`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';

const coreDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `body` (module code with `createBus` and core's `ChangeSignal` in scope) in a fresh process; returns what is still active after it (then the process exits). */
function activeResourcesAfter(body: string): string[] {
  const dist = join(coreDir, 'dist/index.js');
  const spi = join(coreDir, 'dist/spi-entry.js');
  if (!existsSync(dist)) throw new Error('packages/core/dist is missing: run `npm run build` first.');
  const imports = `const { createBus } = await import(${JSON.stringify(pathToFileURL(dist).href)});\nconst { ChangeSignal } = await import(${JSON.stringify(pathToFileURL(spi).href)});`;
  const script = `${imports}\n${body}\nconsole.log(JSON.stringify(process.getActiveResourcesInfo()));\nprocess.exit(0);`;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(output.trim().split('\n').pop()!) as string[];
}

it('close({ drainTimeoutMs }) after subscribe, request/reply and pull leaves no timer running: the drain limit ends with the drain', () => {
  const resources = activeResourcesAfter(`
    const bus = await createBus({ url: 'memory://close-timers', service: 'svc' });
    let handled;
    const done = new Promise((resolve) => { handled = resolve; });
    await bus.subscribe('close.timers', () => handled());
    await bus.publish('close.timers', { n: 1 });
    await done;
    await bus.reply('close.ask', (m) => ({ echo: m.body }));
    await bus.request('close.ask', { q: 1 }, { timeoutMs: 600_000 });
    await bus.pull('close.pulled', { waitMs: 0 }); // declares the group, so the publish is kept for it
    await bus.publish('close.pulled', { p: 1 });
    const [pulled] = await bus.pull('close.pulled', { waitMs: 300_000 });
    await pulled.ack();
    await bus.close({ drainTimeoutMs: 600_000 });
  `);
  expect(resources).not.toContain('Timeout');
});

it('a ChangeSignal whose waiters all woke keeps no timer holding the process, though its shared timer stays armed', () => {
  const resources = activeResourcesAfter(`
    const signal = new ChangeSignal();
    const waited = Promise.all([signal.wait(600_000), signal.wait(600_000)]);
    signal.notify();
    await waited;
  `);
  expect(resources).not.toContain('Timeout');
});
