/**
 * Socket writes: frames queued in one round (here 32 publishes issued together) leave in one
 * writev, not one write each. What is sent is checked by the confirms and the consumer.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, silentLogger, type WireMessage } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { createTransport } from '../src/index.js';
import type { AmqpTransport } from '../src/transport.js';
import { urlWith } from './helpers.js';

const cleanups = cleanupAfterEach();

async function transport(): Promise<AmqpTransport> {
  const t = (await createTransport(new URL(urlWith({ queueExpiresMs: '600000' })), { service: `wr-${randomUUID().slice(0, 6)}`, logger: silentLogger })) as AmqpTransport;
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

/** Counts the socket's write calls (one per _write, one per _writev however many chunks it carries). */
function countWrites(t: AmqpTransport): { readonly calls: number } {
  const socket = (t.link.conn!.connection as unknown as { stream: { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void } }).stream;
  const counter = { calls: 0 };
  const write = socket._write;
  socket._write = function (this: unknown, ...args: unknown[]) {
    counter.calls += 1;
    return write.apply(this, args);
  };
  const writev = socket._writev;
  if (writev !== undefined) {
    socket._writev = function (this: unknown, ...args: unknown[]) {
      counter.calls += 1;
      return writev.apply(this, args);
    };
  }
  return counter;
}

const message = (n: number): WireMessage => ({ body: new TextEncoder().encode(`m${n}`), headers: { 'ce-id': `id-${n}` } });

describe('amqp socket writes', () => {
  it('32 publishes issued together go out in a few socket writes, and all 32 arrive', async () => {
    const t = await transport();
    const topic = `wr.batch.${randomUUID().slice(0, 8)}`;
    const got = new Collector<string>();
    const policy = { maxAttempts: 1, retry: { ...DEFAULT_RETRY, maxAttempts: 1 }, deadLetterTopic: false as const, concurrency: 32, ephemeral: false };
    const consumer = await t.consume(topic, 'g', { prefetch: 32, policy }, (d) => {
      got.push(Buffer.from(d.message.body).toString('utf8'));
      void d.ack();
    });
    cleanups.push(async () => {
      await consumer.close();
      await t.deleteGroup(topic, 'g');
    });
    await t.publish({ topic, message: message(-1) }); // topology declared, publisher channel open
    await got.waitFor(1);
    const writes = countWrites(t);
    await Promise.all(Array.from({ length: 32 }, (_, n) => t.publish({ topic, message: message(n) })));
    expect(writes.calls).toBeGreaterThan(0);
    expect(writes.calls).toBeLessThanOrEqual(4);
    const items = await got.waitFor(33);
    expect(new Set(items)).toEqual(new Set(['m-1', ...Array.from({ length: 32 }, (_, n) => `m${n}`)]));
  });
});
