/**
 * Core asks hasResponders() before every stored request (one no live reply handler took directly). Counted on the server: a core NATS subscription
 * to the JetStream API subject the lookup uses sees every lookup any client makes for the topic.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type Bus, createBus, NoResponderError, RequestTimeoutError, silentLogger } from '@switchyard/core';
import { cleanupAfterEach } from '@switchyard/conformance';
import { names } from '../src/names.js';
import { createNatsTransport, RESPONDERS_REMEMBERED_MS } from '../src/transport.js';
import { NATS_URL, removeTestStreams } from './helpers.js';

const started = new Date();
afterAll(() => removeTestStreams(started, ['resp.', 'switchyard.reply.']));
const cleanups = cleanupAfterEach();
afterEach(() => {
  vi.useRealTimers();
});

const uid = () => randomUUID().slice(0, 8);

/** A bus on this checkout's transport (src), not the built package core would load. */
async function bus(): Promise<Bus> {
  const service = `resp-${uid()}`;
  const transport = createNatsTransport(new URL(NATS_URL), { service, logger: silentLogger });
  const b = await createBus({ url: NATS_URL, service, logger: silentLogger, transport });
  cleanups.push(() => b.close({ drainTimeoutMs: 500 }));
  return b;
}

/** Counts the stream-info requests for `topic`'s stream that reach the server, from any client. */
async function streamInfoCounter(topic: string): Promise<{ seen: () => Promise<number> }> {
  const nc: NatsConnection = await connect({ servers: new URL(NATS_URL).host });
  cleanups.push(() => nc.close());
  let count = 0;
  nc.subscribe(`$JS.API.STREAM.INFO.${names('switchyard').stream(topic)}`, {
    callback: () => {
      count++;
    },
  });
  await nc.flush();
  return {
    // The server forwards a lookup to us before it answers it; a flush round trip after the
    // request returned makes sure the copy has arrived.
    seen: async () => {
      await nc.flush();
      return count;
    },
  };
}

describe('nats request: responders lookup', () => {
  it(`a topic found served is not looked up again for ${RESPONDERS_REMEMBERED_MS / 1000} s, then it is`, async () => {
    // Stored requests only ask (a live reply handler answers direct requests without a lookup):
    // the topic's only group here is a plain subscription, so every request is stored and times out.
    const topic = `resp.remembered.${uid()}`;
    const server = await bus();
    await server.subscribe(topic, () => undefined, { group: 'taps' });
    const client = await bus();
    const ask = (n: number) => expect(client.request(topic, { n }, { timeoutMs: 50 })).rejects.toBeInstanceOf(RequestTimeoutError);
    await ask(0); // finds the responders (and the stream)
    const lookups = await streamInfoCounter(topic);
    for (let n = 1; n <= 10; n++) await ask(n);
    expect(await lookups.seen()).toBe(0);

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + RESPONDERS_REMEMBERED_MS + 1 });
    await ask(11);
    expect(await lookups.seen()).toBe(1);
  });

  it('a topic found unserved is looked up again on the next request: a reply handler started meanwhile answers it', async () => {
    const topic = `resp.negative.${uid()}`;
    const client = await bus();
    const lookups = await streamInfoCounter(topic);
    await expect(client.request(topic, {}, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(NoResponderError);
    await expect(client.request(topic, {}, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(NoResponderError);
    expect(await lookups.seen()).toBe(2);
    const server = await bus();
    await server.reply(topic, () => 'here');
    await expect(client.request(topic, {}, { timeoutMs: 10_000 })).resolves.toBe('here');
  });
});
