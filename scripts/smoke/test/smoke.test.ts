/**
 * One message through each local broker with its official client. A missing broker fails the
 * test (connection refused / timeout); nothing is skipped. Run `scripts/brokers up` first.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import amqp from 'amqplib';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { CreateQueueCommand, DeleteMessageCommand, DeleteQueueCommand, ReceiveMessageCommand, SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { Redis } from 'ioredis';
import pg from 'pg';
import { brokerUrl, kafkaBrokers, natsServers, pubsubTarget, sqsEndpoint, unique, within } from './urls.js';

describe('rabbitmq', () => {
  it('publishes and consumes one message (amqplib)', async () => {
    const connection = await amqp.connect(brokerUrl('rabbitmq'));
    try {
      const channel = await connection.createConfirmChannel();
      const queue = unique('smoke');
      await channel.assertQueue(queue, { durable: false, autoDelete: false });
      const body = randomUUID();
      const received = new Promise<string>((resolve) => {
        void channel.consume(queue, (msg) => {
          if (msg === null) return;
          channel.ack(msg);
          resolve(msg.content.toString());
        });
      });
      channel.sendToQueue(queue, Buffer.from(body));
      await channel.waitForConfirms();
      expect(await within(received, 10_000, 'the AMQP message')).toBe(body);
      await channel.deleteQueue(queue);
      await channel.close();
    } finally {
      await connection.close();
    }
  });
});

describe('kafka', () => {
  it('creates a topic, produces, and consumes in a group (kafkajs)', async () => {
    const kafka = new Kafka({ clientId: 'switchyard-smoke', brokers: kafkaBrokers(), logLevel: logLevel.ERROR });
    const topic = unique('smoke');
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    const consumer = kafka.consumer({ groupId: unique('smoke-group') });
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
      await producer.connect();
      const value = randomUUID();
      await producer.send({ topic, acks: -1, messages: [{ key: 'k', value }] });

      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received = new Promise<string>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => resolve(message.value?.toString() ?? ''),
        });
      });
      expect(await within(received, 30_000, 'the Kafka record')).toBe(value);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

describe('nats', () => {
  it('publishes to a JetStream stream and consumes it (nats.js v3)', async () => {
    const nc = await natsConnect({ servers: natsServers(), timeout: 5_000 });
    try {
      const stream = unique('smoke').replace(/[^a-zA-Z0-9_-]/g, '_');
      const subject = `${stream}.events`;
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [subject] });
      const js = jetstream(nc);
      const body = randomUUID();
      const ack = await js.publish(subject, body);
      expect(ack.stream).toBe(stream);

      await jsm.consumers.add(stream, { durable_name: 'smoke', ack_policy: AckPolicy.Explicit });
      const consumer = await js.consumers.get(stream, 'smoke');
      const msg = await consumer.next({ expires: 10_000 });
      expect(msg).not.toBeNull();
      expect(msg!.string()).toBe(body);
      await msg!.ackAck();
      await jsm.streams.delete(stream);
    } finally {
      await nc.close();
    }
  });
});

describe('sqs', () => {
  it('sends and receives one message (@aws-sdk/client-sqs on ElasticMQ)', async () => {
    const { endpoint, region } = sqsEndpoint();
    const sqs = new SQSClient({ endpoint, region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: unique('smoke') }));
      expect(QueueUrl).toBeTruthy();
      const body = randomUUID();
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10, MaxNumberOfMessages: 1 }));
      expect(Messages?.[0]?.Body).toBe(body);
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: Messages![0]!.ReceiptHandle }));
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    } finally {
      sqs.destroy();
    }
  });
});

describe('pubsub', () => {
  it('publishes and receives one message (@google-cloud/pubsub on the local emulator)', async () => {
    // Emulator only: keep google-auth-library from probing the GCE metadata server (also set in
    // vitest.config.ts, repeated here so this file is safe to run under another config).
    process.env.METADATA_SERVER_DETECTION ??= 'none';
    const { apiEndpoint, projectId } = pubsubTarget();
    const pubsub = new PubSub({ projectId, apiEndpoint });
    expect(pubsub.isEmulator).toBe(true);
    // gRPC would retry an unreachable emulator until the test timeout; fail sooner and clearly.
    const [topic] = await within(pubsub.createTopic(unique('smoke')), 15_000, `a Pub/Sub topic on ${apiEndpoint}`).catch(async (error: unknown) => {
      await pubsub.close();
      throw error;
    });
    const [subscription] = await topic.createSubscription(unique('smoke-sub'));
    try {
      const body = randomUUID();
      const received = new Promise<string>((resolve, reject) => {
        subscription.on('message', (message: Message) => {
          message.ack();
          resolve(message.data.toString());
        });
        subscription.on('error', reject);
      });
      await topic.publishMessage({ data: Buffer.from(body) });
      expect(await within(received, 15_000, 'the Pub/Sub message')).toBe(body);
    } finally {
      await subscription.close();
      await subscription.delete();
      await topic.delete();
      await pubsub.close();
    }
  });
});

describe('redis', () => {
  it('SET/GET and a stream XADD/XREAD round-trip (ioredis)', async () => {
    const redis = new Redis(brokerUrl('redis'), { maxRetriesPerRequest: 1, lazyConnect: true });
    await redis.connect();
    try {
      const key = unique('smoke');
      const value = randomUUID();
      await redis.set(key, value, 'EX', 60);
      expect(await redis.get(key)).toBe(value);

      const stream = `${key}:stream`;
      const id = await redis.xadd(stream, '*', 'body', value);
      const result = await redis.xread('COUNT', 1, 'STREAMS', stream, '0');
      const entry = result?.[0]?.[1]?.[0];
      expect(entry?.[0]).toBe(id);
      expect(entry?.[1]).toEqual(['body', value]);
      await redis.del(key, stream);
    } finally {
      redis.disconnect();
    }
  });
});

describe('postgres', () => {
  it('round-trips a row (pg)', async () => {
    const client = new pg.Client({ connectionString: brokerUrl('postgres') });
    await client.connect();
    try {
      const table = unique('smoke').replace(/-/g, '_');
      await client.query(`CREATE TEMP TABLE ${table} (id serial PRIMARY KEY, body text NOT NULL)`);
      const body = randomUUID();
      await client.query(`INSERT INTO ${table} (body) VALUES ($1)`, [body]);
      const { rows } = await client.query<{ body: string }>(`SELECT body FROM ${table}`);
      expect(rows).toEqual([{ body }]);
      const { rows: who } = await client.query<{ current_user: string }>('SELECT current_user');
      expect(who[0]?.current_user).toBeTruthy();
    } finally {
      await client.end();
    }
  });
});
