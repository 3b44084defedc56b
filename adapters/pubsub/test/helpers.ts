import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PubSub } from '@google-cloud/pubsub';

export const PUBSUB_URL = process.env['SWITCHYARD_TEST_PUBSUB_URL'] ?? 'gcppubsub://switchyard-test?emulator=127.0.0.1:8085';

/** The test URL plus options. */
export function urlWith(options: Record<string, string>, base = PUBSUB_URL): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(options)) url.searchParams.set(name, value);
  return url.toString();
}

/** A plain @google-cloud/pubsub client on the test emulator (for interop tests). */
export function plainClient(): PubSub {
  const url = new URL(PUBSUB_URL);
  const emulator = url.searchParams.get('emulator') ?? process.env['PUBSUB_EMULATOR_HOST'];
  if (!emulator) throw new Error(`${PUBSUB_URL} names no emulator; these tests need one (gcppubsub://project?emulator=host:port)`);
  // A fixed universe: the client then looks for no application default credentials.
  return new PubSub({ projectId: url.hostname, apiEndpoint: emulator, emulatorMode: true, universeDomain: 'googleapis.com' });
}

const brokersScript = fileURLToPath(new URL('../../../scripts/brokers', import.meta.url));

/** `scripts/brokers restart pubsub`, or $SWITCHYARD_TEST_PUBSUB_RESTART (a command) for an emulator of your own. */
export async function restartPubSub(): Promise<void> {
  const custom = process.env['SWITCHYARD_TEST_PUBSUB_RESTART'];
  if (custom) await promisify(execFile)('sh', ['-c', custom], { timeout: 300_000 });
  else await promisify(execFile)(brokersScript, ['restart', 'pubsub'], { timeout: 300_000 });
}
