/**
 * CloudEvents NATS binding interop: a plain nats.js v3 client that follows the binding talks to
 * Switchyard both ways (subject "switchyard.<topic>", ce-* headers, percent-encoded values).
 */
import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createInbox, headers, type Msg } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { type Bus, createBus, type Message, silentLogger } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { fromNats, fromNatsMsg, receivedHeaderBlock } from '../src/wire.js';
import { NATS_URL, removeTestStreams, plainConnection } from './helpers.js';

const started = new Date();
afterAll(() => removeTestStreams(started, ['interop.']));
const cleanups = cleanupAfterEach();

async function bus(service: string): Promise<Bus> {
  const b = await createBus({ url: NATS_URL, service, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 1000 }));
  return b;
}

const plain = () => plainConnection(cleanups);

const uid = () => randomUUID().slice(0, 8);

describe('nats interop (CloudEvents NATS binding)', () => {
  it('a plain nats.js JetStream publisher using ce- headers reaches a Switchyard subscriber', async () => {
    const topic = `interop.in.${uid()}`;
    const sub = await bus(`interop-in-${uid()}`);
    const got = new Collector<Message>();
    await sub.subscribe(topic, (m) => got.push(m)); // creates the topic's stream and the group's consumer

    const js = jetstream(await plain());
    const h = headers();
    h.set('ce-specversion', '1.0');
    h.set('ce-id', 'evt-123');
    h.set('ce-type', 'com.example.order.placed');
    h.set('ce-source', '/legacy/go-service');
    h.set('ce-time', '2024-05-01T12:00:00.000Z');
    h.set('ce-datacontenttype', 'application/json');
    h.set('ce-correlationid', 'corr-9');
    h.set('ce-partitionkey', 'order-7');
    h.set('tenant', 'acme%20%E2%82%AC'); // "acme €", percent-encoded as the binding says
    const ack = await js.publish(`switchyard.${topic}`, JSON.stringify({ orderId: 'o-7', total: 12.5 }), { headers: h });
    expect(ack.stream).toBe(`switchyard_${topic.replace(/\./g, '_2E')}`);

    const [m] = await got.waitFor(1);
    expect(m!.id).toBe('evt-123');
    expect(m!.body).toEqual({ orderId: 'o-7', total: 12.5 });
    expect(m!.contentType).toBe('application/json');
    expect(m!.correlationId).toBe('corr-9');
    expect(m!.key).toBe('order-7');
    expect(m!.headers['tenant']).toBe('acme €');
    expect(m!.attempt).toBe(1);
  });

  it('a Switchyard message reads as binary-mode CloudEvents to a plain JetStream consumer', async () => {
    const topic = `interop.out.${uid()}`;
    const service = `interop-out-${uid()}`;
    const pub = await bus(service);
    // A plain client's own durable on the topic's stream (Switchyard makes the stream on first use).
    await pub.publish(topic, { warmup: true });
    const nc = await plain();
    const jsm = await jetstreamManager(nc);
    const stream = `switchyard_${topic.replace(/\./g, '_2E')}`;
    await jsm.consumers.add(stream, { durable_name: 'plain', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New });
    const { id } = await pub.publish(topic, { orderId: 'o-8' }, { key: 'k 8', headers: { note: ' spaced "quoted" ünï ' }, correlationId: 'c-8' });

    const consumer = await jetstream(nc).consumers.get(stream, 'plain');
    const msg = await consumer.next({ expires: 10_000 });
    expect(msg).not.toBeNull();
    const h = msg!.headers!;
    expect(msg!.subject).toBe(`switchyard.${topic}`);
    expect(h.get('ce-id')).toBe(id);
    expect(h.get('ce-type')).toBe(topic);
    expect(h.get('ce-specversion')).toBe('1.0');
    expect(h.get('ce-source')).toBe(service);
    expect(h.get('ce-datacontenttype')).toBe('application/json');
    expect(h.get('ce-correlationid')).toBe('c-8');
    expect(h.get('ce-partitionkey')).toBe('k%208');
    expect(decodeURIComponent(h.get('note'))).toBe(' spaced "quoted" ünï ');
    expect(msg!.json()).toEqual({ orderId: 'o-8' });
    await msg!.ackAck();
  });

  it('a plain client can ask a Switchyard reply handler: ce-replyto names its inbox, the reply carries ce-inreplyto', async () => {
    const topic = `interop.rr.${uid()}`;
    const server = await bus(`interop-rr-${uid()}`);
    await server.reply(topic, (m) => ({ echo: m.body }));
    const nc = await plain();
    const inbox = createInbox();
    const replies = new Collector<Msg>();
    nc.subscribe(inbox, { callback: (_err, msg) => replies.push(msg) });
    const h = headers();
    for (const [k, v] of Object.entries({
      'ce-specversion': '1.0',
      'ce-id': 'req-1',
      'ce-type': topic,
      'ce-source': 'plain',
      'ce-datacontenttype': 'application/json',
      'ce-replyto': inbox,
    }))
      h.set(k, v);
    await jetstream(nc).publish(`switchyard.${topic}`, JSON.stringify({ n: 1 }), { headers: h });
    const [reply] = await replies.waitFor(1);
    expect(reply!.headers!.get('ce-inreplyto')).toBe('req-1');
    expect(reply!.headers!.get('ce-replystatus')).toBe('ok');
    expect(reply!.json()).toEqual({ echo: { n: 1 } });
  });

  it('reads the header bytes nats.js received as nats.js itself decodes them (the internals the adapter reads are there)', async () => {
    const nc = await plain();
    const subject = `interop.block.${uid()}`;
    const received: Msg[] = [];
    const all = new Promise<void>((resolve) => {
      nc.subscribe(subject, {
        callback: (_err, msg) => {
          received.push(msg);
          if (received.length === 2) resolve();
        },
      });
    });
    await nc.flush();
    const h = headers();
    // Mixed case, a repeated name, a plain Content-Type, a server header, spaces and UTF-8 in a value.
    const sent = [
      ['CE-ID', 'e-1'],
      ['ce-type', 'order.placed'],
      ['Content-Type', 'text/plain'],
      ['note', ' spaced ünï '],
      ['note', 'second value'],
      ['Nats-Msg-Id', 'server-only'],
      ['ce-partitionkey', 'k%201'],
    ] as const;
    for (const [name, value] of sent) h.append(name, value);
    nc.publish(subject, 'with headers', { headers: h });
    nc.publish(subject, 'without');
    await all;
    for (const msg of received) {
      expect(receivedHeaderBlock(msg)).toBeDefined();
      expect(fromNatsMsg(msg)).toEqual(fromNats(msg.data, msg.headers));
    }
    expect(fromNatsMsg(received[0]!)).toEqual({
      body: received[0]!.data,
      headers: { 'ce-id': 'e-1', 'ce-type': 'order.placed', note: 'spaced ünï', 'content-type': 'text/plain' },
      key: 'k 1',
    });
    expect(fromNatsMsg(received[1]!).headers).toEqual({});
  });
});
