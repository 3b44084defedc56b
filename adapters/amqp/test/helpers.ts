import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const RABBITMQ_URL = process.env['SWITCHYARD_TEST_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

/** The test URL plus options (e.g. queueExpiresMs so test queues don't pile up on a long-lived broker). */
export function urlWith(options: Record<string, string>, base = RABBITMQ_URL): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(options)) url.searchParams.set(name, value);
  return url.toString();
}

const brokersScript = fileURLToPath(new URL('../../../scripts/brokers', import.meta.url));

/** `scripts/brokers restart rabbitmq`, or $SWITCHYARD_TEST_RABBITMQ_RESTART (a command) for a broker of your own. */
export async function restartRabbit(): Promise<void> {
  const custom = process.env['SWITCHYARD_TEST_RABBITMQ_RESTART'];
  if (custom) await promisify(execFile)('sh', ['-c', custom], { timeout: 300_000 });
  else await promisify(execFile)(brokersScript, ['restart', 'rabbitmq'], { timeout: 300_000 });
}
