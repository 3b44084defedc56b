/**
 * A restarting server: ElasticMQ answers requests before it has restored its queues from disk, so
 * for a few seconds ListQueues lists none of them and a send says QueueDoesNotExist.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CreateQueueCommand, GetQueueAttributesCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { createBus, silentLogger, type Bus } from '@switchyard/core';
import { Collector, deferred } from '@switchyard/conformance';
import { QueueNames } from '../src/names.js';
import { deleteQueues, plainClient, restartSqs, testUrl } from './helpers.js';

const client = plainClient();
const buses: Bus[] = [];
const { url, prefix } = testUrl({ groupCacheMs: '0' });
const padding = testUrl().prefix;

// Queues to restore, so that the server's restore takes a few seconds after it first answers.
beforeAll(async () => {
  for (let i = 0; i < 100; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => client.send(new CreateQueueCommand({ QueueName: `${padding}-${i + j}` }))));
  }
});

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await deleteQueues(prefix);
  await deleteQueues(padding);
  client.destroy();
});

it('a publisher keeps the groups it knows while a restarted server has not restored them yet: nothing confirmed is lost', async () => {
  const consumer = await createBus({ url, service: 'restart-consumer', logger: silentLogger });
  const publisher = await createBus({ url, service: 'restart-publisher', logger: silentLogger });
  buses.push(consumer, publisher);
  const received = new Collector<number>();
  const seen = new Set<number>();
  await consumer.subscribe(
    'restart.topic',
    (m) => {
      // A restart may deliver a message twice (at least once); what counts is that none is missing.
      const { n } = m.body as { n: number };
      if (!seen.has(n)) received.push(n);
      seen.add(n);
    },
    { group: 'g' },
  );
  await publisher.publish('restart.topic', { n: 0 }); // the publisher lists the topic's groups: it knows g
  await received.waitFor(1);

  await restartIntoRestoreWindow('restart.topic');

  // groupCacheMs=0: every publish lists the groups again, and finds none. A confirmed publish must still reach g.
  for (let n = 1; n <= 5; n++) await publisher.publish('restart.topic', { n });
  const got = await received.waitFor(6, 60_000);
  expect([...got].sort()).toEqual([0, 1, 2, 3, 4, 5]);
}, 180_000);

it('an ack sent while the restarted server has not restored the queue yet still deletes the message', async () => {
  const consumer = await createBus({ url, service: 'restart-acker', logger: silentLogger });
  buses.push(consumer);
  const started = deferred();
  const release = deferred();
  let handled = 0;
  const sub = await consumer.subscribe(
    'restart.ack',
    async () => {
      handled++;
      started.resolve();
      await release.promise;
    },
    { group: 'g' },
  );
  await consumer.publish('restart.ack', { n: 1 });
  await started.promise;
  await restartIntoRestoreWindow('restart.ack');
  release.resolve();
  await sub.close(); // settles the message: its ack goes out now, into the window
  expect(handled).toBe(1);
  // Once the queue is back, it holds nothing: not the message, and not a lease on it that runs out into a redelivery.
  const queueUrl = await restoredQueue('restart.ack');
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  expect(Attributes).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
}, 180_000);

/** Restart the server; it then answers but lists no queue of `topic` yet (the state these tests are about). */
async function restartIntoRestoreWindow(topic: string): Promise<void> {
  await restartSqs();
  const { QueueUrls = [] } = await client.send(new ListQueuesCommand({ QueueNamePrefix: groupQueuePrefix(topic) }));
  expect(QueueUrls, 'ElasticMQ listed the group queue right after its restart; these tests need the window before it restores its queues').toEqual([]);
}

/** The topic's one group queue, once the server has restored it (it has no event to await: polled). */
async function restoredQueue(topic: string): Promise<string> {
  for (;;) {
    const { QueueUrls = [] } = await client.send(new ListQueuesCommand({ QueueNamePrefix: groupQueuePrefix(topic) }));
    if (QueueUrls.length > 0) return QueueUrls[0]!;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function groupQueuePrefix(topic: string): string {
  return new QueueNames(prefix, false).topicPrefix(topic);
}
