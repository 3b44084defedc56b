/**
 * SPI v2 on a real RabbitMQ: group policies shape the group queue (a quorum delivery-limit
 * backstop that dead-letters natively into the policy's topic), a queue re-declared with other
 * arguments is a ConfigurationError that leaves the connection working, exists()/deleteGroup(),
 * ephemeral groups, and a closed bus leaves no inbox behind.
 */
import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createBus, DEFAULT_RETRY, silentLogger, type Bus, type GroupPolicy, type Message } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { createTransport } from '../src/index.js';
import { deliveryLimitFor, type AmqpTransport } from '../src/transport.js';
import { RABBITMQ_URL, urlWith } from './helpers.js';

const EXPIRES = { queueExpiresMs: '600000' };
const cleanups = cleanupAfterEach();

const uid = () => randomUUID().slice(0, 8);

async function bus(options: Record<string, string> = {}): Promise<Bus> {
  const b = await createBus({ url: urlWith({ ...EXPIRES, ...options }), service: `pol-${uid()}`, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 500 }));
  return b;
}

async function transport(options: Record<string, string> = EXPIRES): Promise<AmqpTransport> {
  const t = (await createTransport(new URL(urlWith(options)), { service: `pol-t-${uid()}`, logger: silentLogger })) as AmqpTransport;
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

/** A plain amqplib connection, as an operator's tool would look at the broker. */
async function plain() {
  const conn = await amqplib.connect(RABBITMQ_URL);
  cleanups.push(() => conn.close());
  /** The broker's reply code for `op` on a channel of its own (200 when it succeeded). */
  const reply = async (op: (ch: amqplib.Channel) => Promise<unknown>): Promise<number> => {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    try {
      await op(ch);
      await ch.close();
      return 200;
    } catch (err) {
      return (err as { code: number }).code;
    }
  };
  return { conn, reply };
}

/** Quorum group queue arguments as the adapter derives them from a policy (with the test's x-expires). */
function policyArgs(limit: number, deadLetterTopic: string | false): Record<string, unknown> {
  const args: Record<string, unknown> = { 'x-queue-type': 'quorum', 'x-expires': 600_000, 'x-delivery-limit': limit };
  if (deadLetterTopic !== false) Object.assign(args, { 'x-dead-letter-exchange': 'switchyard.topics', 'x-dead-letter-routing-key': deadLetterTopic });
  return args;
}

const queueOf = (topic: string, group: string) => `switchyard/${topic}/${group}`;

describe('amqp group policies', () => {
  it('the delivery-limit backstop is max(20, 2 × maxAttempts) and dead-letters into the policy topic', () => {
    expect([1, 5, 10, 11, 15, 100].map(deliveryLimitFor)).toEqual([20, 20, 20, 22, 30, 200]);
  });

  it('a subscription declares its queue with the backstop from its policy (checked by re-declaring with the same and other arguments)', async () => {
    const b = await bus();
    const { reply } = await plain();
    const topic = `pol.args.${uid()}`;
    await b.subscribe(topic, () => undefined, { group: 'low', retry: { maxAttempts: 3 } });
    await b.subscribe(topic, () => undefined, { group: 'high', retry: { maxAttempts: 15 } });
    await b.subscribe(topic, () => undefined, { group: 'drop', retry: { maxAttempts: 3 }, deadLetter: false });
    const same = (group: string, args: Record<string, unknown>) => reply((ch) => ch.assertQueue(queueOf(topic, group), { durable: true, arguments: args }));
    expect(await same('low', policyArgs(20, `${topic}.dlq`))).toBe(200);
    expect(await same('low', policyArgs(21, `${topic}.dlq`))).toBe(406);
    expect(await same('high', policyArgs(30, `${topic}.dlq`))).toBe(200);
    expect(await same('drop', policyArgs(20, false))).toBe(200);
    expect(await same('drop', policyArgs(20, `${topic}.dlq`))).toBe(406);
    // The dead-letter topic's group was declared without a policy: the URL options alone.
    expect(await reply((ch) => ch.assertQueue(queueOf(`${topic}.dlq`, 'low'), { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-expires': 600_000 } }))).toBe(200);
  });

  it('deliveryLimit pins the limit; one below maxAttempts is a ConfigurationError at subscribe', async () => {
    const topic = `pol.pin.${uid()}`;
    const pinned = await bus({ deliveryLimit: '7' });
    await pinned.subscribe(topic, () => undefined, { group: 'g', retry: { maxAttempts: 3 } });
    const { reply } = await plain();
    expect(await reply((ch) => ch.assertQueue(queueOf(topic, 'g'), { durable: true, arguments: policyArgs(7, `${topic}.dlq`) }))).toBe(200);
    const err = await pinned.subscribe(topic, () => undefined, { group: 'other', retry: { maxAttempts: 8 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(/deliveryLimit=7 is below maxAttempts 8/);
  });

  it('a queue made before group policies (URL options only) is still consumed, without a backstop', async () => {
    const topic = `pol.legacy.${uid()}`;
    const { reply } = await plain();
    expect(await reply((ch) => ch.assertQueue(queueOf(topic, 'g'), { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-expires': 600_000 } }))).toBe(200);
    const b = await bus();
    const got = new Collector<Message>();
    await b.subscribe(topic, (m) => got.push(m), { group: 'g' });
    await b.publish(topic, { n: 1 });
    await got.waitFor(1);
  });

  it('another dead-letter topic for a group whose queue exists is a ConfigurationError naming the argument; the connection keeps working', async () => {
    const topic = `pol.conflict.${uid()}`;
    const first = await bus();
    const sub = await first.subscribe(topic, () => undefined, { group: 'g' });
    await sub.close();
    const second = await bus();
    const err = await second.subscribe(topic, () => undefined, { group: 'g', deadLetter: `${topic}.elsewhere` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(/different settings.*x-dead-letter-routing-key.*same ones/s);
    // Same connection, no reconnect: publishing and another group work.
    const got = new Collector<Message>();
    await second.subscribe(topic, (m) => got.push(m), { group: 'other' });
    await second.publish(topic, { ok: true });
    await got.waitFor(1);
    expect((await second.health()).details).toMatchObject({ state: 'open', reconnects: 0 });
    // A maxAttempts change within the same limit (both ≤ 10 → 20) is accepted once the old consumer left.
    await expect(second.subscribe(topic, () => undefined, { group: 'g', retry: { maxAttempts: 4 } })).resolves.toBeDefined();
  });

  it('a message returned more often than the limit (a crash loop) is dead-lettered by RabbitMQ into the policy topic, saying so', async () => {
    const topic = `pol.crashloop.${uid()}`;
    const b = await bus();
    const sub = await b.subscribe(topic, () => undefined, { group: 'g', retry: { maxAttempts: 2 } });
    await sub.close(); // the queue (limit 20) and the dead-letter topic's group stay
    const dead = new Collector<Message>();
    await b.subscribe(`${topic}.dlq`, (m) => dead.push(m), { group: 'g' });
    const { id } = await b.publish(topic, { loop: true });
    // A consumer that dies on every delivery: get it and hand it back, 21 times.
    const { conn } = await plain();
    const ch = await conn.createChannel();
    const deadline = Date.now() + 20_000;
    for (let returned = 0; returned <= deliveryLimitFor(2) && Date.now() < deadline; ) {
      const msg = await ch.get(queueOf(topic, 'g'), { noAck: false });
      if (msg === false) continue;
      ch.nack(msg, false, true);
      returned++;
    }
    const [copy] = await dead.waitFor(1, 10_000, 'native dead letter');
    expect(copy!.id).toBe(id);
    expect(copy!.body).toEqual({ loop: true });
    expect(copy!.headers['x-switchyard-error']).toMatch(/RabbitMQ dead-lettered it.*x-delivery-limit/);
    expect(copy!.headers['x-switchyard-original-topic']).toBe(topic);
    expect(copy!.headers['x-switchyard-group']).toBe('g');
    expect(copy!.attempt).toBe(1);
  });
});

describe('amqp exists, deleteGroup, ephemeral groups and inboxes', () => {
  const policy: GroupPolicy = { maxAttempts: 1, retry: { ...DEFAULT_RETRY, maxAttempts: 1 }, deadLetterTopic: false, concurrency: 4, ephemeral: false };

  it('exists is true for a declared group and false for others, a plain topic, and after deleteGroup', async () => {
    const t = await transport();
    const topic = `pol.exists.${uid()}`;
    expect(await t.exists(topic, 'g')).toBe(false);
    await t.declareGroup(topic, 'g', policy);
    expect(await t.exists(topic, 'g')).toBe(true);
    expect(await (await transport()).exists(topic, 'g')).toBe(true);
    expect(await t.exists(topic, 'other')).toBe(false);
    expect(await t.exists(topic)).toBe(false); // a topic is a routing key, not a broker object
    await t.deleteGroup(topic, 'g');
    expect(await t.exists(topic, 'g')).toBe(false);
    await t.deleteGroup(topic, 'g'); // already gone: fine
    // The same transport declares it again afterwards.
    await t.declareGroup(topic, 'g', policy);
    expect(await t.exists(topic, 'g')).toBe(true);
    await t.deleteGroup(topic, 'g');
  });

  it('an ephemeral group is an exclusive queue that goes away with its consumer', async () => {
    const t = await transport();
    const topic = `pol.ephemeral.${uid()}`;
    const got = new Collector<string>();
    const consumer = await t.consume(topic, topic, { prefetch: 4, policy: { ...policy, ephemeral: true } }, (d) => {
      got.push(Buffer.from(d.message.body).toString());
      void d.ack();
    });
    const { reply } = await plain();
    expect(await reply((ch) => ch.checkQueue(queueOf(topic, topic)))).toBe(405); // exclusive to t's connection
    expect(await (await transport()).exists(topic, topic)).toBe(true);
    await t.publish({ topic, message: { body: new TextEncoder().encode('hi'), headers: {} } });
    await got.waitFor(1);
    await consumer.stop();
    await consumer.close();
    await t.deleteGroup(topic, topic);
    expect(await t.exists(topic, topic)).toBe(false);
    expect(await reply((ch) => ch.checkQueue(queueOf(topic, topic)))).toBe(404);
  });

  it('a closed bus leaves no inbox: its queue is gone for a fresh transport and for a plain client', async () => {
    const inner = await transport();
    const inboxes: string[] = [];
    const createInbox = inner.createInbox.bind(inner);
    inner.createInbox = async (onMessage) => {
      const inbox = await createInbox(onMessage);
      inboxes.push(inbox.address);
      return inbox;
    };
    const client = await createBus({ transport: inner, service: `pol-rr-${uid()}`, logger: silentLogger });
    const server = await bus();
    const topic = `pol.rr.${uid()}`;
    await server.reply(topic, (m) => m.body);
    await expect(client.request(topic, { n: 1 }, { timeoutMs: 10_000 })).resolves.toEqual({ n: 1 });
    expect(inboxes).toHaveLength(1);
    const [address] = inboxes as [string];
    const inspector = await transport();
    expect(await inspector.exists(address)).toBe(true);
    await client.close();
    expect(await inspector.exists(address)).toBe(false);
    const { reply } = await plain();
    expect(await reply((ch) => ch.checkQueue(address))).toBe(404);
  });
});
