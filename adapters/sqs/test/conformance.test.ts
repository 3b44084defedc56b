import { afterAll } from 'vitest';
import { runConformance } from '@switchyard/conformance';
import { deleteQueues, restartSqs, testUrl } from './helpers.js';

// Standard queues: the whole suite, broker restarts included.
const standard = testUrl();
runConformance({ name: 'sqs', url: standard.url, restartBroker: restartSqs });

// FIFO queues: per-key order (MessageGroupId = key) and native dedup; the whole suite again.
const fifo = testUrl({ fifo: 'true' });
runConformance({ name: 'sqs-fifo', url: fifo.url });

afterAll(async () => {
  if (process.env['SWITCHYARD_TEST_KEEP_QUEUES'] === '1') return;
  await deleteQueues(standard.prefix);
  await deleteQueues(fifo.prefix);
});
