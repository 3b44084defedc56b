/**
 * `scripts/brokers restart <name>` keeps committed data: persistent AMQP messages and an acked
 * Kafka record survive a broker restart. These restart the shared local brokers, so this file
 * must not run alongside other broker tests (vitest.config.ts sets fileParallelism: false).
 * They only make sense for brokers scripts/brokers manages: when SWITCHYARD_TEST_<NAME>_URL
 * points elsewhere, the case is skipped (it cannot restart your broker).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import amqp from 'amqplib';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { brokerUrl, envVar, isLocalDefault, kafkaBrokers, retryUntil, unique, within } from './urls.js';

const brokersScript = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'brokers');
const TIMEOUT = 120_000;

function restart(name: 'rabbitmq' | 'kafka'): void {
  const result = spawnSync(brokersScript, ['restart', name], { encoding: 'utf8', timeout: TIMEOUT - 10_000 });
  if (result.status !== 0) {
    throw new Error(`scripts/brokers restart ${name} failed (status ${result.status}, ${String(result.error ?? '')}):\n${result.stdout}\n${result.stderr}`);
  }
}

describe.sequential('restart keeps data', () => {
  it.skipIf(!isLocalDefault('rabbitmq'))(`rabbitmq: persistent messages survive a restart (skipped if ${envVar('rabbitmq')} is set)`, { timeout: TIMEOUT }, async () => {
    const queue = unique('restart');
    const bodies = [randomUUID(), randomUUID(), randomUUID()];

    const before = await amqp.connect(brokerUrl('rabbitmq'));
    // The restart closes the connection under us; don't let that surface as an unhandled error.
    before.on('error', () => undefined);
    const channel = await before.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true });
    for (const body of bodies) channel.sendToQueue(queue, Buffer.from(body), { persistent: true });
    await channel.waitForConfirms();
    await before.close();

    restart('rabbitmq');

    const after = await retryUntil(() => amqp.connect(brokerUrl('rabbitmq')), 60_000, 'reconnecting to rabbitmq');
    try {
      const ch = await after.createChannel();
      const got: string[] = [];
      const all = new Promise<void>((resolve) => {
        void ch.consume(queue, (msg) => {
          if (msg === null) return;
          got.push(msg.content.toString());
          ch.ack(msg);
          if (got.length === bodies.length) resolve();
        });
      });
      await within(all, 15_000, 'the persisted AMQP messages');
      expect(got).toEqual(bodies);
      await ch.deleteQueue(queue);
      await ch.close();
    } finally {
      await after.close();
    }
  });

  it.skipIf(!isLocalDefault('kafka'))(`kafka: an acked record survives a restart (skipped if ${envVar('kafka')} is set)`, { timeout: TIMEOUT }, async () => {
    const kafka = new Kafka({ clientId: 'switchyard-restart', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const topic = unique('restart');
    const value = randomUUID();

    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'k', value }] });
    expect(meta?.errorCode).toBe(0);
    await producer.disconnect();

    restart('kafka');

    const consumer = kafka.consumer({ groupId: unique('restart-group') });
    try {
      await retryUntil(() => consumer.connect(), 60_000, 'reconnecting to kafka');
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received = new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? '') });
      });
      expect(await within(received, 60_000, 'the record produced before the restart')).toBe(value);
    } finally {
      await consumer.disconnect();
      const cleanup = kafka.admin();
      await cleanup.connect();
      await cleanup.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await cleanup.disconnect();
    }
  });
});
