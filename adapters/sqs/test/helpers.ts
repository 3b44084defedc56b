import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DeleteQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';

export const SQS_URL = process.env['SWITCHYARD_TEST_SQS_URL'] ?? 'sqs://127.0.0.1:9324';

/**
 * The test URL with a queue-name prefix of this run's own (so deleteQueues() can remove what the
 * run created), short leases and long polls (the lease case runs three leases; closes wait for a poll).
 */
export function testUrl(options: Record<string, string> = {}, base = SQS_URL): { url: string; prefix: string } {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const url = new URL(base);
  for (const [name, value] of Object.entries({ prefix, visibilityTimeout: '6', waitTimeSeconds: '2', ...options })) url.searchParams.set(name, value);
  return { url: url.toString(), prefix };
}

/** A plain SDK client for the test server (what a non-Switchyard producer or consumer uses). */
export function plainClient(base = SQS_URL): SQSClient {
  const url = new URL(base);
  return new SQSClient({
    endpoint: `http://${url.hostname}:${url.port || 9324}`,
    region: url.searchParams.get('region') ?? 'us-east-1',
    credentials: { accessKeyId: 'switchyard-local', secretAccessKey: 'switchyard-local' },
  });
}

/** Remove every queue whose name starts with `prefix` (a test run's own). */
export async function deleteQueues(prefix: string): Promise<number> {
  const client = plainClient();
  let deleted = 0;
  try {
    for (;;) {
      const { QueueUrls = [] } = await client.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 1000 }));
      if (QueueUrls.length === 0) return deleted;
      await Promise.all(QueueUrls.map((QueueUrl) => client.send(new DeleteQueueCommand({ QueueUrl })).catch(() => undefined)));
      deleted += QueueUrls.length;
    }
  } finally {
    client.destroy();
  }
}

const brokersScript = fileURLToPath(new URL('../../../scripts/brokers', import.meta.url));

/** `scripts/brokers restart sqs`, or $SWITCHYARD_TEST_SQS_RESTART (a command) for a server of your own. */
export async function restartSqs(): Promise<void> {
  const custom = process.env['SWITCHYARD_TEST_SQS_RESTART'];
  if (custom) await promisify(execFile)('sh', ['-c', custom], { timeout: 300_000 });
  else await promisify(execFile)(brokersScript, ['restart', 'sqs'], { timeout: 300_000 });
}
