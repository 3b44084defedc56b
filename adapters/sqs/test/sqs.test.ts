/** The adapter's own behaviour on the real server: discovery, backstop, FIFO, sizes, late acks. */
import { afterAll, describe, expect, it } from 'vitest';
import { ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createBus, DEFAULT_RETRY, PayloadTooLargeError, silentLogger, type Bus, type Delivery, type GroupPolicy, type Message } from '@switchyard/core';
import { createTransport, type WireMessage } from '@switchyard/core/spi';
import { QueueNames } from '../src/names.js';
import type { SqsTransport } from '../src/transport.js';
import { deleteQueues, plainClient, testUrl } from './helpers.js';

const prefixes: string[] = [];
const buses: Bus[] = [];
const client = plainClient();

async function bus(options: Record<string, string> = {}, service = 'sqs-test'): Promise<{ bus: Bus; names: QueueNames; url: string }> {
  const { url, prefix } = testUrl(options);
  prefixes.push(prefix);
  const b = await createBus({ url, service, logger: silentLogger });
  buses.push(b);
  return { bus: b, names: new QueueNames(prefix, options['fifo'] === 'true'), url };
}

/** Resolves with each pushed item in turn. */
function inbox<T>(): { push(item: T): void; next(): Promise<T> } {
  const items: T[] = [];
  const waiters: ((item: T) => void)[] = [];
  return {
    push: (item) => (waiters.length > 0 ? waiters.shift()!(item) : items.push(item)),
    next: () => (items.length > 0 ? Promise.resolve(items.shift()!) : new Promise<T>((resolve) => waiters.push(resolve))),
  };
}

const queueUrl = async (name: string) => (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  for (const prefix of prefixes) await deleteQueues(prefix);
  client.destroy();
});

describe('fan-out', () => {
  it('a group declared by another process is found by a publisher when it lists again', async () => {
    const { bus: publisher, url } = await bus({ groupCacheMs: '0' });
    const one = inbox<Message>();
    const two = inbox<Message>();
    await publisher.subscribe('fan.topic', (m) => one.push(m), { group: 'one' });
    await publisher.publish('fan.topic', { n: 1 });
    expect((await one.next()).body).toEqual({ n: 1 });
    const other = await createBus({ url, service: 'other', logger: silentLogger });
    buses.push(other);
    await other.subscribe('fan.topic', (m) => two.push(m), { group: 'two' });
    await publisher.publish('fan.topic', { n: 2 });
    expect((await one.next()).body).toEqual({ n: 2 });
    expect((await two.next()).body).toEqual({ n: 2 });
  });
});

describe('a group queue that is missing for a while', () => {
  // What a publisher sees while a restarting ElasticMQ has not restored its queues yet (for seconds
  // after it answers, with many queues or messages): the group queue is not listed, and a send says
  // QueueDoesNotExist; then it is back. Reproduced here by deleting the queue and creating it again.
  it('a publisher keeps the group it knows and sends once the queue is back, rather than confirm a publish that reached no queue', async () => {
    const { url, names } = await bus({ groupCacheMs: '0' });
    const transport = (await createTransport(new URL(url), { service: 'raw', logger: silentLogger })) as SqsTransport;
    const retrying = inbox<void>();
    transport.client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          if (context.commandName === 'SendMessageBatchCommand' && (err as Error).name === 'QueueDoesNotExist') retrying.push();
          throw err;
        }
      },
      { step: 'initialize', name: 'watchMissingQueue' },
    );
    const message = (n: number): WireMessage => ({ body: new TextEncoder().encode(String(n)), headers: { 'content-type': 'application/json' } });
    try {
      await transport.connect();
      await transport.declareGroup('missing.queue', 'g');
      await transport.publish({ topic: 'missing.queue', message: message(1) }); // listed: the publisher knows g
      const name = names.groupQueue('missing.queue', 'g');
      const queue = await queueUrl(name);
      await client.send(new DeleteQueueCommand({ QueueUrl: queue }));
      // groupCacheMs=0: this publish lists the groups again, and the listing leaves g out.
      const publishing = transport.publish({ topic: 'missing.queue', message: message(2) });
      expect(await Promise.race([publishing.then(() => 'confirmed'), retrying.next().then(() => 'waiting for the queue')])).toBe('waiting for the queue');
      await client.send(new CreateQueueCommand({ QueueName: name }));
      await publishing;
      const { Messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
      expect(Messages.map((m) => m.Body)).toEqual(['2']);
    } finally {
      await transport.close();
    }
  });
});

describe('replies', () => {
  it('a reply whose inbox queue is gone (its requester closed) is dropped at once, not retried for publishTimeoutMs', async () => {
    const { url, prefix } = testUrl({ publishTimeoutMs: '600000' });
    prefixes.push(prefix);
    const dropped = inbox<string>();
    const logger = { ...silentLogger, info: (message: string) => dropped.push(message) };
    const responder = await createBus({ url, service: 'responder', logger });
    const requester = await createBus({ url, service: 'requester', logger: silentLogger });
    buses.push(responder, requester);
    const started = inbox<number>();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await responder.reply('late.reply', async (req) => {
      const { n } = req.body as { n: number };
      started.push(n);
      if (n === 2) await gate;
      return { n };
    });
    // The first reply lets the responder's publisher learn the requester's inbox queue.
    expect(await requester.request('late.reply', { n: 1 }, { timeoutMs: 30_000 })).toEqual({ n: 1 });
    const late = requester.request('late.reply', { n: 2 }, { timeoutMs: 60_000 }).catch((err: Error) => err);
    expect(await started.next()).toBe(1);
    expect(await started.next()).toBe(2);
    await requester.close(); // deletes its inbox queue
    expect(await late).toMatchObject({ code: expect.any(String) });
    release();
    // With publishTimeoutMs at 10 minutes, this arrives only if the reply did not wait for the queue to come back.
    expect(await dropped.next()).toMatch(/no longer exists/);
  });
});

describe('native backstop', () => {
  it('the group queue gets a redrive policy above maxAttempts into its dead-letter queue, and SQS moves a crash loop there', async () => {
    const { bus: b, names } = await bus({ redriveMargin: '1' });
    await b.pull('redrive.topic', { group: 'g', waitMs: 0, maxAttempts: 1 });
    const main = await queueUrl(names.groupQueue('redrive.topic', 'g'));
    const dlq = await queueUrl(names.groupQueue('redrive.topic.dlq', 'g'));
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: main, AttributeNames: ['RedrivePolicy'] }));
    const { Attributes: dlqAttributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }));
    expect(JSON.parse(Attributes!['RedrivePolicy']!)).toEqual({ deadLetterTargetArn: dlqAttributes!['QueueArn'], maxReceiveCount: 2 });
    // A consumer that crashes before settling (here: a plain client giving it straight back), twice;
    // the next receive finds it moved (SQS moves it when a receive would exceed maxReceiveCount).
    await b.publish('redrive.topic', { crash: true });
    for (let receives = 0; ; ) {
      const { Messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: main, WaitTimeSeconds: receives < 2 ? 5 : 1 }));
      if (Messages.length === 0 && receives >= 2) break;
      for (const m of Messages) {
        receives++;
        expect(receives).toBeLessThanOrEqual(2);
        await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: main, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
      }
    }
    const moved = await b.pull('redrive.topic.dlq', { group: 'g', waitMs: 5000 });
    expect(moved.map((m) => m.body)).toEqual([{ crash: true }]);
    await moved[0]!.ack();
  });
});

describe('FIFO mode', () => {
  it('drops a second publish with the same id (native dedup) and keeps a key in order', async () => {
    const { bus: b } = await bus({ fifo: 'true' });
    const got = inbox<Message>();
    await b.subscribe('fifo.topic', (m) => got.push(m), { group: 'g' });
    await b.publish('fifo.topic', { n: 1 }, { id: 'same', key: 'k' });
    await b.publish('fifo.topic', { n: 1 }, { id: 'same', key: 'k' });
    await b.publish('fifo.topic', { n: 2 }, { key: 'k' });
    expect((await got.next()).body).toEqual({ n: 1 });
    expect((await got.next()).body).toEqual({ n: 2 });
    expect(b.capabilities.nativeDedup).toBe(true);
    expect(b.capabilities.ordering).toBe('perKey');
  });
});

describe('sizes', () => {
  it('a binary body at maxPayloadBytes arrives byte-exact (base64 fits 1 MiB); one byte more is PayloadTooLargeError', async () => {
    const { bus: b } = await bus();
    const got = inbox<Message>();
    await b.subscribe('big.topic', (m) => got.push(m), { group: 'g' });
    const headers = { h: 'x'.repeat(4000) };
    // Core counts the CloudEvents headers too (about 300 bytes).
    const room = b.capabilities.maxPayloadBytes - 4001 - 1000;
    const body = new Uint8Array(room).map((_, i) => (i * 7919) % 256);
    await b.publish('big.topic', body, { headers });
    const m = await got.next();
    expect(Buffer.from(m.body as Uint8Array).equals(Buffer.from(body))).toBe(true);
    const err = await b.publish('big.topic', new Uint8Array(b.capabilities.maxPayloadBytes + 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
  });
});

describe('settling', () => {
  it('an ack with a receipt handle SQS no longer honours counts as done', async () => {
    const { url, names } = await bus();
    const transport = (await createTransport(new URL(url), { service: 'raw', logger: silentLogger })) as SqsTransport;
    try {
      await transport.connect();
      await transport.declareGroup('late.ack', 'g');
      await transport.publish({ topic: 'late.ack', message: { body: new TextEncoder().encode('"x"'), headers: { 'content-type': 'application/json' } } });
      const [first] = await transport.pull('late.ack', 'g', { max: 1, waitMs: 5000 });
      expect(await first!.extend!(0)).toBe(true); // visible again at once: as if its lease ran out
      const [second] = await transport.pull('late.ack', 'g', { max: 1, waitMs: 5000 });
      expect(second!.deliveryCount).toBe(2);
      await expect(first!.ack()).resolves.toBeUndefined();
      await second!.ack();
      expect(await transport.pull('late.ack', 'g', { max: 1, waitMs: 1000 })).toEqual([]);
      expect(await transport.exists('late.ack', 'g')).toBe(true);
      await transport.deleteGroup('late.ack', 'g');
      expect(await transport.exists('late.ack', 'g')).toBe(false);
      expect(await transport.exists('late.ack')).toBe(false);
      void names;
    } finally {
      await transport.close();
    }
  });
});

describe('receive loop', () => {
  const policy: GroupPolicy = { maxAttempts: 1, retry: DEFAULT_RETRY, deadLetterTopic: false, concurrency: 1, ephemeral: true };
  const json = (text: string): WireMessage => ({ body: new TextEncoder().encode(JSON.stringify(text)), headers: { 'content-type': 'application/json' } });

  it('what a handler sends as it gets a message (a reply) goes to SQS before the next receive', async () => {
    const { url } = await bus({ groupCacheMs: '300000' });
    const transport = (await createTransport(new URL(url), { service: 'raw', logger: silentLogger })) as SqsTransport;
    // Before the first command: the client resolves each command's middleware once (cacheMiddleware).
    const commands: string[] = [];
    transport.client.middlewareStack.add(
      (next, context) => (args) => {
        commands.push(String(context.commandName).replace(/Command$/, ''));
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    try {
      await transport.connect();
      await transport.declareGroup('loop.reply', 'g');
      await transport.publish({ topic: 'loop.reply', message: json('warm') }); // the reply topic's groups are listed now
      const delivered = inbox<Delivery>();
      const consumer = await transport.consume('loop.request', 'g', { prefetch: 10, policy }, (delivery) => {
        commands.push('(delivered)');
        delivered.push(delivery);
        void transport.publish({ topic: 'loop.reply', message: json('reply') });
      });
      await transport.publish({ topic: 'loop.request', message: json('request') });
      const delivery = await delivered.next();
      await delivery.ack();
      await consumer.stop();
      await consumer.close();
      const after = commands.slice(commands.indexOf('(delivered)') + 1);
      expect(after.indexOf('SendMessageBatch')).toBeGreaterThanOrEqual(0);
      expect(after.indexOf('SendMessageBatch')).toBeLessThan(after.indexOf('ReceiveMessage'));
    } finally {
      await transport.close();
    }
  });
});
