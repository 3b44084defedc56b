/**
 * A restarting server: ElasticMQ answers requests before it has restored its queues from disk, so
 * for a few seconds ListQueues lists none of them and a send says QueueDoesNotExist.
 */
import { afterAll, expect, it } from 'vitest';
import { CreateQueueCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { createBus, silentLogger, type Bus } from '@switchyard/core';
import { Collector } from '@switchyard/conformance';
import { QueueNames } from '../src/names.js';
import { deleteQueues, plainClient, restartSqs, testUrl } from './helpers.js';

const client = plainClient();
const buses: Bus[] = [];
const { url, prefix } = testUrl({ groupCacheMs: '0' });
const padding = testUrl().prefix;

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await deleteQueues(prefix);
  await deleteQueues(padding);
  client.destroy();
});

it('a publisher keeps the groups it knows while a restarted server has not restored them yet: nothing confirmed is lost', async () => {
  // Queues to restore, so that the server's restore takes a few seconds after it first answers.
  for (let i = 0; i < 100; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => client.send(new CreateQueueCommand({ QueueName: `${padding}-${i + j}` }))));
  }
  const consumer = await createBus({ url, service: 'restart-consumer', logger: silentLogger });
  const publisher = await createBus({ url, service: 'restart-publisher', logger: silentLogger });
  buses.push(consumer, publisher);
  const received = new Collector<number>();
  await consumer.subscribe('restart.topic', (m) => received.push((m.body as { n: number }).n), { group: 'g' });
  await publisher.publish('restart.topic', { n: 0 }); // the publisher lists the topic's groups: it knows g
  await received.waitFor(1);

  await restartSqs();
  // The state this test is about: the server answers, and lists no queue of the topic yet.
  const groupQueues = new QueueNames(prefix, false).topicPrefix('restart.topic');
  const { QueueUrls = [] } = await client.send(new ListQueuesCommand({ QueueNamePrefix: groupQueues }));
  expect(QueueUrls, 'ElasticMQ listed the group queue right after its restart; this test needs the window before it restores its queues').toEqual([]);

  // groupCacheMs=0: every publish lists the groups again, and finds none. A confirmed publish must still reach g.
  for (let n = 1; n <= 5; n++) await publisher.publish('restart.topic', { n });
  const got = await received.waitFor(6, 60_000);
  expect([...new Set(got)].sort()).toEqual([0, 1, 2, 3, 4, 5]);
}, 180_000);
