import { isSwitchyardError, type Bus } from '@switchyard/core';
import { positionals } from '../args.js';
import { openBus } from '../bus.js';
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { table } from '../output.js';
import { shown } from '../url.js';

export const health: Command = {
  name: 'health',
  summary: 'connect to a broker and print its health and what it does natively',
  options: { json: { type: 'boolean' } },
  help: `Usage: switchyard health <url> [--json]

Connects to <url>, prints bus.health() (ok, transport, details) and bus.capabilities, and closes.

Options:
  --json       one JSON object: { url, ok, transport, details, capabilities } (url without secrets)
  -h, --help   this help

Exit codes: 0 healthy, 1 unhealthy or unreachable, 2 bad arguments, 3 bad URL or missing adapter.

Examples:
  switchyard health amqp://guest:guest@127.0.0.1:5672
  switchyard health kafka://127.0.0.1:9092 --json`,

  async run(parsed, { out }) {
    const [url] = positionals(parsed, ['url']);
    const json = parsed.values['json'] === true;
    let bus: Bus;
    try {
      bus = await openBus(url!);
    } catch (err) {
      // Unreachable is an answer to "is it healthy?"; a bad URL or a missing adapter is not.
      if (!isSwitchyardError(err, 'ERR_CONNECTION')) throw err;
      if (json) out.line(JSON.stringify({ url: shown(url!), ok: false, error: err.message }));
      else out.line(`${out.color.red('unhealthy')}: ${err.message}`);
      return ExitCode.failed;
    }
    try {
      const result = await bus.health();
      const { capabilities } = bus;
      if (json) {
        out.line(JSON.stringify({ url: shown(url!), ok: result.ok, transport: result.transport, details: result.details, capabilities }));
      } else {
        out.line(`${result.ok ? out.color.green('healthy') : out.color.red('unhealthy')} ${shown(url!)} (${result.transport})`);
        const rows = Object.entries(result.details).map(([k, v]) => [`  ${k}`, typeof v === 'string' ? v : JSON.stringify(v)]);
        for (const row of table(rows)) out.line(row);
        out.line('capabilities:');
        for (const row of table(Object.entries(capabilities).map(([k, v]) => [`  ${k}`, String(v)]))) out.line(row);
      }
      return result.ok ? ExitCode.ok : ExitCode.failed;
    } finally {
      await bus.close({ drainTimeoutMs: 2000 });
    }
  },
};
