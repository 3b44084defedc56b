import { positionals } from '../args.js';
import type { Command } from '../command.js';
import { runOrderDemo } from '../demo/story.js';
import { ExitCode } from '../exit-codes.js';

export const demo: Command = {
  name: 'demo',
  summary: 'run the order-processing story on a broker (default memory://)',
  options: {},
  help: `Usage: switchyard demo [url]

Runs the order-processing story of examples/order-processing: inventory answers requests, two
teams get their own copy of every order (fan-out), one order is rejected for lack of stock, and a
malformed order from an old client is dead-lettered at once with its reason. Same code on every
broker: only the URL changes.

  [url]        broker URL (default: $SWITCHYARD_URL, else memory://)
  -h, --help   this help

Exit codes: 0 the story finished, 1 it did not finish within 120 s, 3 broker error.

Examples:
  switchyard demo
  switchyard demo amqp://guest:guest@127.0.0.1:5672`,

  async run(parsed, { out, env }) {
    const [given] = positionals(parsed, [], ['url']);
    const url = given ?? env['SWITCHYARD_URL'] ?? 'memory://';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 120_000);
    });
    try {
      const result = await Promise.race([runOrderDemo({ url, say: (line) => out.line(line) }), timeout]);
      if (result === 'timeout') {
        out.info('The demo did not finish within 120 s. Is the broker reachable and healthy?');
        return ExitCode.failed;
      }
      return ExitCode.ok;
    } finally {
      clearTimeout(timer);
    }
  },
};
