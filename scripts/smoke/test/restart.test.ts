/**
 * `scripts/brokers restart <name>` keeps committed data: persistent AMQP messages and an acked
 * Kafka record survive a broker restart. These restart the shared local brokers, so this file
 * must not run alongside other broker tests (vitest.config.ts sets fileParallelism: false).
 * For a broker of your own (SWITCHYARD_TEST_<NAME>_URL set), set SWITCHYARD_TEST_<NAME>_RESTART
 * to a shell command that restarts it keeping its data; without one the case fails and says so
 * (it never skips: an unproven claim is not a pass).
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
  const custom = process.env[`SWITCHYARD_TEST_${name.toUpperCase()}_RESTART`];
  if (!isLocalDefault(name) && !custom) {
    throw new Error(
      `${envVar(name)} points at your own broker, which scripts/brokers cannot restart. Set SWITCHYARD_TEST_${name.toUpperCase()}_RESTART to a command that restarts it keeping its data.`,
    );
  }
  const result = custom
    ? spawnSync('sh', ['-c', custom], { encoding: 'utf8', timeout: TIMEOUT - 10_000 })
    : spawnSync(brokersScript, ['restart', name], { encoding: 'utf8', timeout: TIMEOUT - 10_000 });
  if (result.status !== 0) {
    throw new Error(`Restarting ${name} failed (status ${result.status}, ${String(result.error ?? '')}):\n${result.stdout}\n${result.stderr}`);
  }
}

describe.sequential('restart keeps data', () => {
  it('rabbitmq: persistent messages survive a restart', { timeout: TIMEOUT }, async () => {
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

  it('kafka: an acked record survives a restart', { timeout: TIMEOUT }, async () => {
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
