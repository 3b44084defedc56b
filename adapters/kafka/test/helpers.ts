import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseBusUrl } from '@switchyard/core/spi';

export const KAFKA_URL = process.env['SWITCHYARD_TEST_KAFKA_URL'] ?? 'kafka://127.0.0.1:9092';

/** host:port list for plain kafkajs clients. */
export function brokersOf(url: string): string[] {
  return parseBusUrl(url).hosts.map((h) => (/:\d+$/.test(h) ? h : `${h}:9092`));
}

const brokersScript = fileURLToPath(new URL('../../../scripts/brokers', import.meta.url));

/** `scripts/brokers restart kafka`, or $SWITCHYARD_TEST_KAFKA_RESTART (a command) for a broker of your own. */
export async function restartKafka(): Promise<void> {
  const custom = process.env['SWITCHYARD_TEST_KAFKA_RESTART'];
  if (custom) await promisify(execFile)('sh', ['-c', custom], { timeout: 300_000 });
  else await promisify(execFile)(brokersScript, ['restart', 'kafka'], { timeout: 300_000 });
}
