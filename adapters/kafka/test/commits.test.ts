/**
 * Commit cadence of the group consumer on a real Kafka (consumer.ts): how many OffsetCommit
 * requests the member sends, counted on the real kafkajs consumer it uses.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Consumer, type ConsumerConfig } from 'kafkajs';
import { silentLogger, type Delivery } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { GroupConsumer } from '../src/consumer.js';
import { parseKafkaUrl } from '../src/options.js';
import { brokersOf, KAFKA_URL } from './helpers.js';

const cleanups = cleanupAfterEach();
const uid = () => randomUUID().slice(0, 8);

/** A Kafka client whose consumers count their commitOffsets calls. */
function countingKafka(): { kafka: Kafka; commits: () => number } {
  const kafka = new Kafka({ clientId: 'commits-test', brokers: brokersOf(KAFKA_URL), logLevel: logLevel.NOTHING });
  let commits = 0;
  const consumer = kafka.consumer.bind(kafka);
  kafka.consumer = (config: ConsumerConfig): Consumer => {
    const c = consumer(config);
    const commitOffsets = c.commitOffsets.bind(c);
    c.commitOffsets = (offsets) => {
      commits++;
      return commitOffsets(offsets);
    };
    return c;
  };
  return { kafka, commits: () => commits };
}

async function freshTopic(kafka: Kafka): Promise<string> {
  const topic = `commits.${uid()}`;
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
  return topic;
}

describe('kafka commits', () => {
  it('with a commit delay, acks are not committed one by one: nothing before the delay, everything at close', async () => {
    const { kafka, commits } = countingKafka();
    const topic = await freshTopic(kafka);
    const groupId = `commits-${uid()}`;
    const settings = parseKafkaUrl(new URL(KAFKA_URL), 'commits-test');
    const delivered = new Collector<Delivery>();
    const consumer = new GroupConsumer({
      kafka,
      settings,
      logger: silentLogger,
      topic,
      group: groupId,
      groupId,
      prefetch: 4,
      onDelivery: (delivery) => delivered.push(delivery),
      accept: undefined,
      // Longer than the test: no timed commit can happen while it runs.
      commitDelayMs: 600_000,
    });
    cleanups.push(() => consumer.close());
    await consumer.start();
    const producer = kafka.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    for (let n = 0; n < 5; n++) {
      await producer.send({ topic, messages: [{ value: `m-${n}` }] });
      const [delivery] = (await delivered.waitFor(n + 1, 30_000)).slice(n);
      await delivery!.ack();
    }
    // Without the delay, the first ack alone started a commit (one request in flight, then the next).
    expect(commits()).toBe(0);
    await consumer.close();
    expect(commits()).toBe(1);
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed?.partitions).toEqual([{ partition: 0, offset: '5', metadata: null }]);
  });
});
