/**
 * Interop with plain @aws-sdk/client-sqs, both ways, following the README's packing rule: the
 * main CloudEvents attributes as String attributes, the rest as JSON in `switchyard-headers`,
 * bodies as they are or base64 with `switchyard-body`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, type Message as SqsMessage } from '@aws-sdk/client-sqs';
import { createBus, silentLogger, type Bus, type Message } from '@switchyard/core';
import { QueueNames } from '../src/names.js';
import { deleteQueues, plainClient, testUrl } from './helpers.js';

const { url, prefix } = testUrl();
const names = new QueueNames(prefix, false);
const client = plainClient();
const buses: Bus[] = [];

async function bus(service = 'interop'): Promise<Bus> {
  const b = await createBus({ url, service, logger: silentLogger });
  buses.push(b);
  return b;
}

async function queueUrl(topic: string, group: string): Promise<string> {
  return (await client.send(new GetQueueUrlCommand({ QueueName: names.groupQueue(topic, group) }))).QueueUrl!;
}

async function receiveOne(queue: string): Promise<SqsMessage> {
  for (;;) {
    const { Messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: queue, WaitTimeSeconds: 5, MessageAttributeNames: ['All'] }));
    if (Messages.length > 0) return Messages[0]!;
  }
}

function waitFor<T>(): { push(item: T): void; next(): Promise<T> } {
  const items: T[] = [];
  const waiters: ((item: T) => void)[] = [];
  return {
    push: (item) => (waiters.length > 0 ? waiters.shift()!(item) : items.push(item)),
    next: () => (items.length > 0 ? Promise.resolve(items.shift()!) : new Promise<T>((resolve) => waiters.push(resolve))),
  };
}

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await deleteQueues(prefix);
  client.destroy();
});

describe('Switchyard → plain SQS consumer', () => {
  it('a JSON message: CloudEvents attributes as String attributes, the rest in switchyard-headers, body as is', async () => {
    const b = await bus('orders');
    await b.pull('order.placed', { group: 'plain', waitMs: 0 }); // declares the group queue
    const { id } = await b.publish('order.placed', { orderId: 'o-1', note: 'é ✓' }, { key: 'k-1', headers: { tenant: 'acme', empty: '' }, causationId: 'c-0' });
    const m = await receiveOne(await queueUrl('order.placed', 'plain'));
    const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
    expect(JSON.parse(m.Body!)).toEqual({ orderId: 'o-1', note: 'é ✓' });
    expect(attr('ce-id')).toBe(id);
    expect(attr('ce-type')).toBe('order.placed');
    expect(attr('ce-source')).toBe('orders');
    expect(attr('ce-specversion')).toBe('1.0');
    expect(attr('content-type')).toBe('application/json');
    expect(attr('ce-correlationid')).toBe(id);
    expect(Date.parse(attr('ce-time')!)).not.toBeNaN();
    expect(JSON.parse(attr('switchyard-headers')!)).toEqual({ tenant: 'acme', empty: '', 'ce-causationid': 'c-0', 'x-switchyard-key': 'k-1' });
    expect(m.MessageAttributes?.['switchyard-body']).toBeUndefined();
    expect(Object.keys(m.MessageAttributes ?? {}).length).toBeLessThanOrEqual(10);
  });

  it('binary and empty bodies travel base64 / empty with switchyard-body', async () => {
    const b = await bus();
    await b.pull('bin.topic', { group: 'plain', waitMs: 0 });
    const queue = await queueUrl('bin.topic', 'plain');
    const bytes = Uint8Array.from([0, 1, 2, 0xff, 0xfe, 10]);
    await b.publish('bin.topic', bytes);
    const m = await receiveOne(queue);
    expect(m.MessageAttributes?.['switchyard-body']?.StringValue).toBe('base64');
    expect(Buffer.from(m.Body!, 'base64')).toEqual(Buffer.from(bytes));
    await b.publish('bin.topic', new Uint8Array(0));
    const empty = await receiveOne(queue);
    expect(empty.MessageAttributes?.['switchyard-body']?.StringValue).toBe('empty');
  });
});

describe('plain SQS producer → Switchyard', () => {
  it('a message with CloudEvents attributes and switchyard-headers is read with its id, headers and key', async () => {
    const b = await bus();
    const got = waitFor<Message>();
    await b.subscribe('payment.done', (m) => got.push(m), { group: 'svc' });
    await client.send(
      new SendMessageCommand({
        QueueUrl: await queueUrl('payment.done', 'svc'),
        MessageBody: JSON.stringify({ amount: 5 }),
        MessageAttributes: {
          'ce-id': { DataType: 'String', StringValue: 'pay-1' },
          'ce-type': { DataType: 'String', StringValue: 'payment.done' },
          'ce-source': { DataType: 'String', StringValue: 'legacy' },
          'ce-specversion': { DataType: 'String', StringValue: '1.0' },
          'content-type': { DataType: 'String', StringValue: 'application/json' },
          'switchyard-headers': { DataType: 'String', StringValue: JSON.stringify({ tenant: 'acme', 'x-switchyard-key': 'acct-9' }) },
          region: { DataType: 'String', StringValue: 'eu' },
          cents: { DataType: 'Number', StringValue: '500' },
        },
      }),
    );
    const m = await got.next();
    expect(m.id).toBe('pay-1');
    expect(m.body).toEqual({ amount: 5 });
    expect(m.key).toBe('acct-9');
    expect(m.headers).toEqual({ tenant: 'acme', region: 'eu', cents: '500' });
    expect(m.attempt).toBe(1);
  });

  it('a plain message without attributes is bytes with an id that stays the same on redelivery', async () => {
    const b = await bus();
    const got = waitFor<Message>();
    let failed = false;
    await b.subscribe(
      'plain.bytes',
      (m) => {
        got.push(m);
        if (!failed) {
          failed = true;
          throw new Error('once');
        }
      },
      { group: 'svc', retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 10 } },
    );
    await client.send(new SendMessageCommand({ QueueUrl: await queueUrl('plain.bytes', 'svc'), MessageBody: 'hello' }));
    const first = await got.next();
    const second = await got.next();
    expect(first.contentType).toBe('application/octet-stream');
    expect(Buffer.from(first.body as Uint8Array).toString()).toBe('hello');
    expect(second.id).toBe(first.id);
    expect(second.attempt).toBe(2);
  });

  it('base64 and empty bodies marked with switchyard-body arrive byte-exact', async () => {
    const b = await bus();
    const got = waitFor<Message>();
    await b.subscribe('plain.b64', (m) => got.push(m), { group: 'svc' });
    const queue = await queueUrl('plain.b64', 'svc');
    const attrs = (encoding: string) => ({
      'switchyard-body': { DataType: 'String', StringValue: encoding },
      'content-type': { DataType: 'String', StringValue: 'application/octet-stream' },
    });
    await client.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: Buffer.from([0, 255, 7]).toString('base64'), MessageAttributes: attrs('base64') }));
    expect(Buffer.from((await got.next()).body as Uint8Array)).toEqual(Buffer.from([0, 255, 7]));
    await client.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: '-', MessageAttributes: attrs('empty') }));
    expect((await got.next()).body).toEqual(new Uint8Array(0));
  });
});
