/**
 * SQS with @aws-sdk/client-sqs, the same guarantees and batching as the adapter: a standard queue
 * per topic, SendMessage per publish (SendMessageBatch of 10 for "64 in flight", where the
 * adapter's batcher also sends batches), one receive loop of ReceiveMessage (up to 10, long
 * poll) while fewer than the prefetch are unsettled, DeleteMessageBatch after each handler
 * (deletes of one tick go together). Request/reply: the same reply-queue protocol the adapter
 * uses (SQS has no native one).
 */
import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { eventAttributes, replyAttributes } from '../lib/cloudevents.mjs';
import { encode, pool, prefetchFor } from '../lib/pool.mjs';

const queueName = (topic) => `raw-${topic.replace(/\W/g, '-')}`;

const text = (value) => ({ DataType: 'String', StringValue: value });
/**
 * --raw-wire cloudevents: the attributes as the adapter packs them — ce-id, ce-type, ce-source,
 * ce-specversion, ce-time, ce-correlationid and content-type each as an attribute, the others
 * (ce-replyto, ce-inreplyto, ce-replystatus) in one JSON attribute switchyard-headers.
 */
function sqsAttributes({ inreplyto, replystatus, ...individual }, packed = {}) {
  const out = { 'content-type': text('application/json') };
  for (const name in individual) out[`ce-${name}`] = text(individual[name]);
  if (inreplyto !== undefined) Object.assign(packed, { 'ce-inreplyto': inreplyto, 'ce-replystatus': replystatus });
  if (Object.keys(packed).length > 0) out['switchyard-headers'] = text(JSON.stringify(packed));
  return out;
}
const packedHeader = (m, name) => JSON.parse(m.MessageAttributes?.['switchyard-headers']?.StringValue ?? '{}')[name];

export async function sqsSide(url, { wire = 'plain' } = {}) {
  const ce = wire === 'cloudevents';
  const eventMetadata = (topic) => (ce ? sqsAttributes(eventAttributes(topic)) : undefined);
  const { host } = new URL(url);
  // cacheMiddleware: the SDK's own throughput option, which the adapter uses too (a fair baseline is the fastest plain client).
  const client = new SQSClient({ endpoint: `http://${host}`, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, cacheMiddleware: true });
  const urls = new Map();
  const closers = new Set();
  const declare = async (topic) => {
    let q = urls.get(topic);
    if (!q) {
      q = (await client.send(new CreateQueueCommand({ QueueName: queueName(topic) }))).QueueUrl;
      urls.set(topic, q);
    }
    return q;
  };
  const send = async (topic, body, attributes) => {
    const QueueUrl = await declare(topic);
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: encode(body).toString('utf8'), MessageAttributes: attributes }));
  };
  const consume = async (topic, concurrency, onMessage) => {
    const QueueUrl = await declare(topic);
    const prefetch = prefetchFor(concurrency);
    const run = pool(concurrency);
    let unsettled = 0;
    let open = true;
    let deletes = [];
    const flushDeletes = async () => {
      const batch = deletes.splice(0, 10);
      if (batch.length === 0) return;
      await client.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: batch.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle })) }));
      if (deletes.length > 0) await flushDeletes();
    };
    let roomSignal;
    const loop = (async () => {
      try {
        while (open) {
          if (unsettled >= prefetch) {
            await new Promise((resolve) => (roomSignal = resolve));
            continue;
          }
          const { Messages = [] } = await client.send(
            new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: Math.min(10, prefetch - unsettled), WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }),
          );
          for (const m of Messages) {
            unsettled++;
            // Done once the handler is: the delete (batched per tick) follows on its own.
            run(async () => {
              await onMessage(m);
              deletes.push(m.ReceiptHandle);
              if (deletes.length === 1) void new Promise((resolve) => setImmediate(resolve)).then(flushDeletes).catch(() => undefined);
              unsettled--;
              roomSignal?.();
            });
          }
        }
      } catch (err) {
        if (open) throw err;
      }
    })();
    const close = async () => {
      open = false;
      roomSignal?.();
      await loop;
      deletes = [];
      closers.delete(close);
    };
    closers.add(close);
    return close;
  };
  const pending = new Map();
  let inbox;
  const replyQueue = () =>
    (inbox ??= (async () => {
      const topic = `replies-${randomUUID().slice(0, 8)}`;
      const QueueUrl = await declare(topic);
      await consume(topic, 256, async (m) => {
        const id = ce ? packedHeader(m, 'ce-inreplyto') : m.MessageAttributes?.inReplyTo?.StringValue;
        const resolve = pending.get(id);
        pending.delete(id);
        resolve?.(JSON.parse(m.Body));
      });
      return QueueUrl;
    })());
  return {
    label: 'raw',
    prepare: declare,
    publish: (topic, body) => send(topic, body, eventMetadata(topic)),
    async publishBatch(topic, bodies) {
      const QueueUrl = await declare(topic);
      const chunks = [];
      for (let i = 0; i < bodies.length; i += 10) chunks.push(bodies.slice(i, i + 10));
      await Promise.all(
        chunks.map((chunk) =>
          client.send(
            new SendMessageBatchCommand({
              QueueUrl,
              Entries: chunk.map((b, i) => ({ Id: String(i), MessageBody: encode(b).toString('utf8'), MessageAttributes: eventMetadata(topic) })),
            }),
          ),
        ),
      );
    },
    consume: (topic, concurrency, handler) => consume(topic, concurrency, (m) => handler(JSON.parse(m.Body))),
    serve: (topic, concurrency, answer) =>
      consume(topic, concurrency, async (m) => {
        const reply = await answer(JSON.parse(m.Body));
        const requestId = m.MessageAttributes[ce ? 'ce-id' : 'id'].StringValue;
        await client.send(
          new SendMessageCommand({
            QueueUrl: ce ? packedHeader(m, 'ce-replyto') : m.MessageAttributes.replyTo.StringValue,
            MessageBody: JSON.stringify(reply),
            MessageAttributes: ce ? sqsAttributes(replyAttributes(topic, requestId)) : { inReplyTo: text(requestId) },
          }),
        );
      }),
    async request(topic, body) {
      const replyTo = await replyQueue();
      const attributes = ce ? eventAttributes(topic) : { id: randomUUID() };
      const reply = new Promise((resolve) => pending.set(attributes.id, resolve));
      await send(topic, body, ce ? sqsAttributes(attributes, { 'ce-replyto': replyTo }) : { id: text(attributes.id), replyTo: text(replyTo) });
      return reply;
    },
    async close() {
      for (const close of [...closers]) await close().catch(() => undefined);
      for (const QueueUrl of urls.values()) await client.send(new DeleteQueueCommand({ QueueUrl })).catch(() => undefined);
      client.destroy();
    },
  };
}
