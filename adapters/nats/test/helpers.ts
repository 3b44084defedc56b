import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const NATS_URL = process.env['SWITCHYARD_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

const brokersScript = fileURLToPath(new URL('../../../scripts/brokers', import.meta.url));

/** `scripts/brokers restart nats`, or $SWITCHYARD_TEST_NATS_RESTART (a command) for a server of your own. */
export async function restartNats(): Promise<void> {
  const custom = process.env['SWITCHYARD_TEST_NATS_RESTART'];
  if (custom) await promisify(execFile)('sh', ['-c', custom], { timeout: 300_000 });
  else await promisify(execFile)(brokersScript, ['restart', 'nats'], { timeout: 300_000 });
}

/** The URL with extra query options. */
export function urlWith(options: Record<string, string>, base = NATS_URL): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(options)) url.searchParams.set(k, v);
  return url.href;
}
