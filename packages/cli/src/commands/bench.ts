import { randomUUID } from 'node:crypto';
import { numberOption, positionals, stringList } from '../args.js';
import { openBus } from '../bus.js';
import type { Command } from '../command.js';
import { CommandError, ExitCode } from '../exit-codes.js';
import type { Output } from '../output.js';
import { shown } from '../url.js';

/**
 * The repository's bench harness (a private workspace, so not a dependency of this published
 * package): used when it is installed next to the CLI, otherwise the built-in measurement below.
 */
const HARNESS = '@switchyard/bench';

interface Harness {
  runBench(options: { url: string; scale?: number; reps?: number; only?: string[]; log: (line: string) => void }): Promise<{ brokers: { error?: unknown }[] }>;
}

export const bench: Command = {
  name: 'bench',
  summary: 'measure publish, publish→handler and request/reply throughput on a broker',
  options: { scale: { type: 'string' }, reps: { type: 'string' }, only: { type: 'string', multiple: true } },
  help: `Usage: switchyard bench <url> [--scale n] [--reps n] [--only scenario]

Measures throughput on the broker at <url> through the public Bus API. In the Switchyard
repository the bench harness (bench/, Switchyard next to each broker's raw client) is used when it
is installed; elsewhere a built-in run measures confirmed publishes (64 in flight), publish→handler
(concurrency 16) and request/reply (16 in flight) on topics of its own. Numbers compare changes on
one machine; they are not absolute claims.

Options:
  --scale <n>      multiply message counts (default 1: 20,000 messages, 2,000 requests built in)
  --reps <n>       repetitions per scenario (harness only)
  --only <name>    scenarios to run (harness only; repeatable)
  -h, --help       this help

Exit codes: 0 measured, 1 a scenario failed, 2 bad arguments, 3 broker error.

Examples:
  switchyard bench memory://
  switchyard bench amqp://guest:guest@127.0.0.1:5672 --scale 0.1`,

  async run(parsed, { out }) {
    const [url] = positionals(parsed, ['url']);
    const scale = numberOption(parsed.values, 'scale', 1, 0.001, 100);
    const reps = numberOption(parsed.values, 'reps', 1, 1, 20);
    const only = stringList(parsed.values, 'only');
    const harness = await loadHarness();
    if (harness !== undefined) {
      out.info(`bench (${HARNESS}) on ${shown(url!)}`);
      const report = await harness.runBench({ url: url!, scale, reps, ...(only.length > 0 ? { only } : {}), log: (line) => out.line(line) });
      return report.brokers.some((b) => b.error !== undefined) ? ExitCode.failed : ExitCode.ok;
    }
    if (only.length > 0) throw new CommandError(`--only needs the bench harness (${HARNESS}), which is not installed; the built-in run has three fixed scenarios.`, ExitCode.usage);
    await builtIn(url!, scale, out);
    return ExitCode.ok;
  },
};

async function loadHarness(): Promise<Harness | undefined> {
  try {
    const name: string = HARNESS; // a variable: resolved at run time, not a build-time dependency
    const mod = (await import(name)) as Partial<Harness>;
    return typeof mod.runBench === 'function' ? (mod as Harness) : undefined;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

async function builtIn(url: string, scale: number, out: Output): Promise<void> {
  const messages = Math.max(10, Math.round(20_000 * scale));
  const requests = Math.max(10, Math.round(2_000 * scale));
  const run = randomUUID().slice(0, 8);
  const bus = await openBus(url);
  try {
    out.line(`bench on ${shown(url)} (${(await bus.health()).transport}, node ${process.version})`);
    const report = (label: string, count: number, seconds: number) =>
      out.line(
        `${label.padEnd(36)} ${String(count).padStart(7)} in ${seconds.toFixed(2).padStart(6)} s  ${Math.round(count / seconds)
          .toLocaleString('en-US')
          .padStart(9)} /s`,
      );

    const publishTopic = `bench.publish.${run}`;
    report('publish (confirmed, 64 in flight)', messages, await timed(() => inFlight(64, messages, (n) => bus.publish(publishTopic, { n }))));

    const e2eTopic = `bench.e2e.${run}`;
    let received = 0;
    let allReceived!: () => void;
    const done = new Promise<void>((resolve) => (allReceived = resolve));
    const sub = await bus.subscribe(
      e2eTopic,
      () => {
        if (++received === messages) allReceived();
      },
      { concurrency: 16 },
    );
    report(
      'publish → handler (concurrency 16)',
      messages,
      await timed(async () => {
        await inFlight(64, messages, (n) => bus.publish(e2eTopic, { n }));
        await done;
      }),
    );
    await sub.close();

    const rpcTopic = `bench.rpc.${run}`;
    const replier = await bus.reply(rpcTopic, (req) => req.body, { concurrency: 16 });
    report('request/reply (16 in flight)', requests, await timed(() => inFlight(16, requests, (n) => bus.request(rpcTopic, { n }, { timeoutMs: 30_000 }))));
    await replier.close();
  } finally {
    await bus.close({ drainTimeoutMs: 5000 });
  }
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** Run `count` operations with at most `width` in flight. */
async function inFlight(width: number, count: number, operation: (n: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await operation(next++);
    }),
  );
}
