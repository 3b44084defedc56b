import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export const NATS_URL = process.env['SWITCHYARD_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** A plain nats.js connection (what another client sees of the server), closed by `cleanups` after the test. */
export async function plainConnection(cleanups: (() => unknown)[]): Promise<NatsConnection> {
  const nc = await connect({ servers: new URL(NATS_URL).host });
  cleanups.push(() => nc.close());
  return nc;
}

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

/**
 * Remove the streams (and so their consumers) that tests made since `since` under the given
 * topic prefixes. Test topics are unique per run and JetStream keeps empty streams for ever; left
 * alone they pile up in the server's data directory and slow every restart (each stream is
 * flushed on shutdown).
 */
export async function removeTestStreams(since: Date, topicPrefixes: readonly string[]): Promise<void> {
  const nc = await connect({ servers: new URL(NATS_URL).host });
  try {
    const jsm = await jetstreamManager(nc);
    const doomed: string[] = [];
    // Collect first: deleting while listing shifts the pages and skips streams.
    for await (const info of jsm.streams.list()) {
      const topic = info.config.metadata?.['switchyard.topic'];
      if (topic !== undefined && topicPrefixes.some((p) => topic.startsWith(p)) && new Date(info.created) >= since) doomed.push(info.config.name);
    }
    for (const name of doomed) await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
