/** The pull loop (consumer.ts, pull-session.ts), seen from the server. */
import { randomUUID } from 'node:crypto';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { type Bus, createBus, silentLogger } from '@switchyard/core';
import { cleanupAfterEach, Collector, CuttableProxy } from '@switchyard/conformance';
import { ackInfo } from '../src/consumer.js';
import { names } from '../src/names.js';
import { createNatsTransport } from '../src/transport.js';
import { NATS_URL, removeTestStreams } from './helpers.js';

const started = new Date();
afterAll(() => removeTestStreams(started, ['pull.']));
const cleanups = cleanupAfterEach();

const uid = () => randomUUID().slice(0, 8);
const { stream, consumer } = names('switchyard');

/** A bus on this checkout's transport (src), not the built package core would load. */
async function bus(url = NATS_URL): Promise<Bus> {
  const service = `pull-${uid()}`;
  const transport = createNatsTransport(new URL(url), { service, logger: silentLogger });
  const b = await createBus({ url, service, logger: silentLogger, transport });
  cleanups.push(() => b.close({ drainTimeoutMs: 500 }));
  return b;
}

async function manager(): Promise<JetStreamManager> {
  const nc = await connect({ servers: new URL(NATS_URL).host });
  cleanups.push(() => nc.close());
  return jetstreamManager(nc);
}

/** Ask the server until `check` holds (each answer is a fresh round trip; there is no event to await). */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && check(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('nats pull loop', () => {
  it('reads delivery count and stream sequence from both ack subject forms, and nothing else', () => {
    expect(ackInfo('$JS.ACK.s.c.3.41.7.1700000000000000000.2')).toEqual({ deliveryCount: 3, streamSequence: '41' });
    expect(ackInfo('$JS.ACK.hub.ACCHASH.s.c.1.9.9.1700000000000000000.0.tok')).toEqual({ deliveryCount: 1, streamSequence: '9' });
    expect(ackInfo('$JS.ACK._.ACCHASH.s.c.2.10.4.1700000000000000000.0')).toEqual({ deliveryCount: 2, streamSequence: '10' });
    expect(ackInfo('_INBOX.abc')).toBeUndefined();
    expect(ackInfo('$JS.ACK.s.c.x.41.7.1.2')).toBeUndefined();
    expect(ackInfo('$JS.ACK.s.c.3.41')).toBeUndefined();
  });

  it('the server never has more than the prefetch unacked for a subscription whose handlers are busy', async () => {
    const topic = `pull.bound.${uid()}`;
    const group = `g-${uid()}`;
    const b = await bus();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const got = new Collector<unknown>();
    // Concurrency 1: core's prefetch is 1 + 4.
    await b.subscribe(
      topic,
      async (m) => {
        got.push(m.body);
        await gate;
      },
      { group, concurrency: 1 },
    );
    for (let n = 0; n < 20; n++) await b.publish(topic, { n });
    const jsm = await manager();
    const info = () => jsm.consumers.info(stream(topic), consumer(group));
    const held = await eventually(info, (i) => i.num_ack_pending >= 5, 'five messages to be delivered');
    expect(held.num_ack_pending).toBe(5);
    expect(held.num_pending).toBe(15);
    expect(got.items).toHaveLength(1);
    release();
    await got.waitFor(20);
    const after = await eventually(info, (i) => i.num_ack_pending === 0, 'every ack to be confirmed');
    expect(after.num_pending).toBe(0);
  });

  it('a consumer deleted on the server under a live subscription is declared again, and its messages flow', async () => {
    const topic = `pull.deleted.${uid()}`;
    const group = `g-${uid()}`;
    const b = await bus();
    const got = new Collector<unknown>();
    await b.subscribe(topic, (m) => got.push(m.body), { group });
    await b.publish(topic, 'before');
    await got.waitFor(1);
    const jsm = await manager();
    await jsm.consumers.delete(stream(topic), consumer(group));
    // Interest retention drops what is published while no consumer exists: wait for it to be back.
    await eventually(
      () => jsm.consumers.info(stream(topic), consumer(group)),
      () => true,
      'the consumer to be declared again',
    );
    await b.publish(topic, 'after');
    await got.waitFor(2);
    expect(got.items).toEqual(['before', 'after']);
  });

  it('after the connection drops and comes back (the consumer renews its pull inbox), its messages flow', async () => {
    const target = new URL(NATS_URL);
    const proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port || 4222) });
    cleanups.push(() => proxy.close());
    const topic = `pull.reconnect.${uid()}`;
    const consuming = await bus(proxy.url(NATS_URL));
    const got = new Collector<unknown>();
    await consuming.subscribe(topic, (m) => got.push(m.body));
    const publisher = await bus();
    await publisher.publish(topic, 'before');
    await got.waitFor(1);
    proxy.cut();
    proxy.restore();
    await eventually(
      async () => (await consuming.health()).details,
      (d) => (d as { reconnects?: number }).reconnects === 1,
      'the bus to reconnect',
    );
    await publisher.publish(topic, 'after');
    // Within AckWait's 10 s and before a stalled request would be given up on (7.5 s).
    await got.waitFor(2, 5_000);
    expect(got.items).toEqual(['before', 'after']);
  });
});
