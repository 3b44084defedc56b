/** Messages from plain clients on the same broker: no Switchyard on the sending side. */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryIdempotencyStore, silentLogger, type Bus, type Message, type Transport } from '../src/index.js';
import { createMemoryTransport } from '../src/memory/transport.js';
import { memoryBus, topic, waitFor } from './helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let counter = 0;
/** A bus and a plain (non-Switchyard) client on one memory broker. */
async function busAndPlainClient(): Promise<{ bus: Bus; plain: Transport }> {
  const broker = `foreign-${process.pid}-${++counter}`;
  const bus = await memoryBus('svc', broker);
  const plain = await createMemoryTransport(new URL(`memory://${broker}`), { service: 'plain', logger: silentLogger });
  cleanups.push(
    () => bus.close(),
    () => plain.close(),
  );
  return { bus, plain };
}

describe('a foreign CloudEvents version', () => {
  it('is dead-lettered at once, and the dead letter can be read from the DLQ', async () => {
    const { bus, plain } = await busAndPlainClient();
    const t = topic('specversion');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    let calls = 0;
    await bus.subscribe(t, () => void calls++);
    const body = new TextEncoder().encode('{"legacy":true}');
    await plain.publish({ topic: t, message: { body, headers: { 'ce-specversion': '0.3', 'ce-id': 'old-1', 'content-type': 'application/json' } } });
    await waitFor(dead, 1);
    expect(calls).toBe(0);
    expect(dead[0]!.id).toBe('old-1');
    expect(dead[0]!.headers['x-switchyard-error']).toMatch(/ce-specversion "0\.3"/);
    expect(dead[0]!.headers['x-switchyard-attempts']).toBe('1');
    expect(dead[0]!.headers['x-switchyard-original-specversion']).toBe('0.3');
  });
});

describe('plain messages without an id', () => {
  it('two identical ones are two messages: an idempotent handler runs for each; a redelivery keeps its id', async () => {
    const { bus, plain } = await busAndPlainClient();
    const t = topic('no-id');
    const ran: Message[] = [];
    let failedId: string | undefined;
    await bus.subscribe(
      t,
      (m) => {
        if (failedId === undefined) {
          failedId = m.id;
          throw new Error('redeliver me');
        }
        ran.push(m);
      },
      { idempotency: { store: memoryIdempotencyStore() }, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1, factor: 1 } },
    );
    const message = { body: new TextEncoder().encode('{"charge":10}'), headers: { 'content-type': 'application/json' } };
    await plain.publish({ topic: t, message });
    await plain.publish({ topic: t, message });
    await waitFor(ran, 2);
    expect(ran.map((m) => m.body)).toEqual([{ charge: 10 }, { charge: 10 }]);
    expect(ran[0]!.id).not.toBe(ran[1]!.id);
    // The first one failed once and came back with the id it had: recognisable as a redelivery.
    expect(ran.find((m) => m.attempt === 2)?.id).toBe(failedId);
  });
});
