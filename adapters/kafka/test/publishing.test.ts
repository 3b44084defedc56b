/** How publishes share produce requests on a real Kafka (publisher.ts, transport.ts). */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Transport, type WireMessage } from '@switchyard/core';
import { parseBusUrl } from '@switchyard/core/spi';
import { cleanupAfterEach } from '@switchyard/conformance';
import { createTransport } from '../src/index.js';
import { KAFKA_URL } from './helpers.js';

const cleanups = cleanupAfterEach();
const uid = () => randomUUID().slice(0, 8);

async function transport(): Promise<Transport> {
  const { url, hosts } = parseBusUrl(KAFKA_URL);
  const t = await createTransport(url, { service: `pub-${uid()}`, logger: silentLogger, hosts });
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

const EVENTS = 10;
const message = (bytes: number): WireMessage => ({ body: new Uint8Array(bytes).fill(120), headers: { 'ce-id': randomUUID() } });

describe('kafka publishing', () => {
  it('a reply is not queued behind event publishes in flight: it is confirmed before the last of them', async () => {
    const t = await transport();
    const topic = `publishing.events.${uid()}`;
    const inbox = `switchyard.reply.pub-test.${uid()}`;
    // Topics exist and both paths have published once: what follows measures no connect or create.
    await t.publish({ topic, message: message(10) });
    await t.publish({ topic: inbox, message: message(10) });
    const order: string[] = [];
    // ~600 kB each: one per produce request (maxBatchBytes 900 kB), so they go one round trip after another.
    // Ten, so the reply's one small round trip has nine of theirs to finish in even on a busy machine.
    const events = Array.from({ length: EVENTS }, (_, n) => t.publish({ topic, message: message(600_000) }).then(() => void order.push(`event-${n}`)));
    const reply = t.publish({ topic: inbox, message: message(10) }).then(() => void order.push('reply'));
    await Promise.all([...events, reply]);
    // On one shared producer the reply would join the queue after all of them (and be confirmed last).
    expect(order.indexOf('reply')).toBeLessThan(order.indexOf(`event-${EVENTS - 1}`));
    expect(order.filter((o) => o.startsWith('event-'))).toEqual(Array.from({ length: EVENTS }, (_, n) => `event-${n}`));
  });
});
