/**
 * Request/reply over RabbitMQ direct reply-to: no reply queue per requester, and plain AMQP
 * clients on either side of a request (answering one, or asking with amq.rabbitmq.reply-to).
 */
import { randomUUID } from 'node:crypto';
import amqplib, { type ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createBus, silentLogger, type Bus, type WireMessage } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { createTransport } from '../src/index.js';
import type { AmqpTransport } from '../src/transport.js';
import { RABBITMQ_URL, urlWith } from './helpers.js';

const URL_ = urlWith({ queueExpiresMs: '600000' });
const EXCHANGE = 'switchyard.topics';
const DIRECT = /^amq\.rabbitmq\.reply-to\.\S+$/;
const cleanups = cleanupAfterEach();
const uid = () => randomUUID().slice(0, 8);

async function bus(): Promise<Bus> {
  const b = await createBus({ url: URL_, service: `dr-${uid()}`, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 500 }));
  return b;
}

async function transport(): Promise<AmqpTransport> {
  const t = (await createTransport(new URL(URL_), { service: `dr-t-${uid()}`, logger: silentLogger })) as AmqpTransport;
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

async function plainChannel() {
  const conn = await amqplib.connect(RABBITMQ_URL);
  cleanups.push(() => conn.close());
  return conn.createConfirmChannel();
}

const reply = (text: string): WireMessage => ({ body: new TextEncoder().encode(text), headers: { 'ce-inreplyto': 'r-1' } });

describe('amqp request/reply over direct reply-to', () => {
  it('a request names a direct reply-to consumer (no reply queue) in reply-to alone, and is persistent', async () => {
    const topic = `dr.req.${uid()}`;
    const client = await bus();
    const ch = await plainChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, EXCHANGE, topic);
    const requests = new Collector<ConsumeMessage>();
    await ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        requests.push(msg);
        // Answered as the README tells a plain client to: to reply-to, through the default exchange.
        ch.sendToQueue(msg.properties.replyTo as string, Buffer.from(JSON.stringify('pong')), {
          contentType: 'application/json',
          headers: { cloudEvents_specversion: '1.0', cloudEvents_id: randomUUID(), cloudEvents_inreplyto: msg.properties.messageId as string },
        });
      },
      { noAck: true },
    );
    await expect(client.request(topic, 'ping', { timeoutMs: 10_000 })).resolves.toBe('pong');
    const [request] = requests.items as [ConsumeMessage];
    expect(request.properties.replyTo).toMatch(DIRECT);
    // Not also a header: reply-to is where AMQP clients and fromAmqp read it.
    expect(request.properties.headers).not.toHaveProperty('cloudEvents_replyto');
    expect(request.properties.deliveryMode).toBe(2);
    // The address is a live consumer for anyone who looks, and nothing once the bus is gone.
    const inspector = await transport();
    expect(await inspector.exists(request.properties.replyTo as string)).toBe(true);
    await client.close();
    expect(await inspector.exists(request.properties.replyTo as string)).toBe(false);
  });

  it('a plain client asking with reply-to = amq.rabbitmq.reply-to (no cloudEvents_replyto) gets the reply', async () => {
    const topic = `dr.plain.${uid()}`;
    const server = await bus();
    await server.reply(topic, (m) => ({ echo: m.body }));
    const ch = await plainChannel();
    const replies = new Collector<ConsumeMessage>();
    await ch.consume('amq.rabbitmq.reply-to', (msg) => msg && replies.push(msg), { noAck: true });
    const id = randomUUID();
    await new Promise<void>((resolve, reject) =>
      ch.publish(
        EXCHANGE,
        topic,
        Buffer.from(JSON.stringify({ n: 7 })),
        {
          replyTo: 'amq.rabbitmq.reply-to',
          messageId: id,
          contentType: 'application/json',
          headers: { cloudEvents_specversion: '1.0', cloudEvents_id: id, cloudEvents_type: 'ask', cloudEvents_source: '/plain' },
        },
        (err: unknown) => (err ? reject(err) : resolve()),
      ),
    );
    const [answer] = await replies.waitFor(1, 10_000);
    expect(answer!.properties.headers!['cloudEvents_inreplyto']).toBe(id);
    expect(JSON.parse(answer!.content.toString('utf8'))).toEqual({ echo: { n: 7 } });
  });

  it('a reply to an inbox that is gone is dropped without harm: the replier answers the next inbox', async () => {
    const requester = await transport();
    const responder = await transport();
    const gone = await requester.createInbox(() => undefined);
    expect(gone.address).toMatch(DIRECT);
    await gone.close();
    await expect(responder.sendToInbox(gone.address, reply('late'))).resolves.toBeUndefined();
    const got = new Collector<string>();
    const live = await requester.createInbox((m) => got.push(Buffer.from(m.body).toString('utf8')));
    expect(live.address).not.toBe(gone.address);
    await responder.sendToInbox(live.address, reply('on time'));
    expect(await got.waitFor(1, 10_000)).toEqual(['on time']);
    await live.close();
  });
});
