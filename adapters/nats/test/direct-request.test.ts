/** Direct requests (src/direct.ts): over core NATS to a live member, through the stream when none is live. */
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { type Bus, createBus, type Message, RemoteHandlerError, silentLogger } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { NATS_URL, removeTestStreams, plainConnection } from './helpers.js';

const started = new Date();
afterAll(() => removeTestStreams(started, ['direct.', 'switchyard.reply.']));
const cleanups = cleanupAfterEach();
const uid = () => randomUUID().slice(0, 8);

async function bus(): Promise<Bus> {
  const b = await createBus({ url: NATS_URL, service: `direct-${uid()}`, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 500 }));
  return b;
}

const plain = () => plainConnection(cleanups);

/** Messages the topic's stream ever stored (its last sequence). */
async function stored(nc: NatsConnection, topic: string): Promise<number> {
  const info = await (await jetstreamManager(nc)).streams.info(`switchyard_${topic.replace(/\./g, '_2E')}`);
  return info.state.last_seq;
}

describe('nats direct requests', () => {
  it('a request to a live reply handler is answered without being stored in the stream', async () => {
    const topic = `direct.live.${uid()}`;
    const [server, client, nc] = [await bus(), await bus(), await plain()];
    await server.reply(topic, (m: Message<number>) => m.body * 2);
    const before = await stored(nc, topic);
    const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => client.request(topic, n)));
    expect(answers).toEqual([2, 4, 6, 8, 10]);
    expect(await stored(nc, topic)).toBe(before);
  });

  it('a handler error reaches the requester as RemoteHandlerError, with correlation kept', async () => {
    const topic = `direct.fail.${uid()}`;
    const [server, client] = [await bus(), await bus()];
    const seen = new Collector<Message>();
    await server.reply(topic, (m) => {
      seen.push(m);
      throw new Error('out of stock');
    });
    await expect(client.request(topic, {}, { correlationId: 'order-9' })).rejects.toSatisfy(
      (err: unknown) => err instanceof RemoteHandlerError && /out of stock/.test(err.message),
    );
    expect(seen.items[0]?.correlationId).toBe('order-9');
  });

  it('while the group has no live member the request is stored, and answered once a member is back', async () => {
    const topic = `direct.later.${uid()}`;
    const group = `g-${uid()}`;
    const [first, client, nc] = [await bus(), await bus(), await plain()];
    const sub = await first.reply(topic, () => 'early', { group });
    await sub.close(); // the group stays declared on the server, with nobody live
    const before = await stored(nc, topic);
    const answer = client.request(topic, 'hello', { timeoutMs: 20_000 });
    // Stored: it waits in the stream for the group.
    await expect.poll(() => stored(nc, topic), { timeout: 10_000 }).toBe(before + 1);
    const second = await bus();
    await second.reply(topic, (m: Message<string>) => `${m.body} again`, { group });
    await expect(answer).resolves.toBe('hello again');
  });

  it('a plain NATS client can answer: the request arrives on the direct subject with the CloudEvents headers and a reply subject', async () => {
    const topic = `direct.plain.${uid()}`;
    const [client, nc] = [await bus(), await plain()];
    nc.subscribe(`switchyard.~req.${topic.replace(/\./g, '_2E')}`, {
      queue: 'plain',
      callback: (_err, msg) => {
        const h = headers();
        h.set('ce-specversion', '1.0');
        h.set('ce-id', randomUUID());
        h.set('ce-source', 'plain');
        h.set('ce-type', 'answer');
        h.set('ce-inreplyto', msg.headers?.get('ce-id') ?? '');
        h.set('ce-replystatus', 'ok');
        h.set('ce-datacontenttype', 'application/json');
        msg.respond(JSON.stringify({ type: msg.headers?.get('ce-type') }), { headers: h });
      },
    });
    await nc.flush();
    await expect(client.request(topic, {})).resolves.toEqual({ type: topic });
  });
});
