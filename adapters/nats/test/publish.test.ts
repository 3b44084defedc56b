/** JetStream publishes over the adapter's own reply inbox (replies.ts), seen from the server. */
import { randomUUID } from 'node:crypto';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger, ValidationError } from '@switchyard/core';
import { cleanupAfterEach } from '@switchyard/conformance';
import { names } from '../src/names.js';
import { createNatsTransport, type NatsTransport, parsePubAck } from '../src/transport.js';
import { NATS_URL, removeTestStreams } from './helpers.js';

const started = new Date();
afterAll(() => removeTestStreams(started, ['pub.']));
const cleanups = cleanupAfterEach();

const uid = () => randomUUID().slice(0, 8);
const { stream } = names('switchyard');
const message = (text: string) => ({ body: new TextEncoder().encode(text), headers: { 'ce-id': uid(), 'content-type': 'text/plain' } });

async function transport(): Promise<NatsTransport> {
  const t = createNatsTransport(new URL(NATS_URL), { service: `pub-${uid()}`, logger: silentLogger });
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

async function manager(): Promise<JetStreamManager> {
  const nc = await connect({ servers: new URL(NATS_URL).host });
  cleanups.push(() => nc.close());
  return jetstreamManager(nc);
}

describe('nats publish', () => {
  it('reads the stream ack: stored, an API error with its code, or an answer that is no ack', () => {
    const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    expect(parsePubAck(bytes({ stream: 's', seq: 4, duplicate: false }))).toEqual({});
    expect(parsePubAck(bytes({ error: { code: 503, err_code: 10077, description: 'maximum messages exceeded' } }))).toEqual({ error: 'maximum messages exceeded (503)' });
    expect(parsePubAck(bytes({ seq: 1 }))).toEqual({ error: 'the answer names no stream' });
    expect(parsePubAck(new TextEncoder().encode('+OK'))).toEqual({ error: 'the answer is not JSON' });
  });

  it('stores the message once, with a Nats-Msg-Id of its own, and resolves on the ack', async () => {
    const topic = `pub.stored.${uid()}`;
    const t = await transport();
    await t.declareGroup(topic, 'g');
    await t.publish({ topic, message: message('one') });
    await t.publish({ topic, message: message('two') });
    const jsm = await manager();
    const info = await jsm.streams.info(stream(topic));
    expect(info.state.messages).toBe(2);
    const first = await jsm.streams.getMessage(stream(topic), { seq: info.state.first_seq });
    expect(first?.header.get('Nats-Msg-Id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(new TextDecoder().decode(first?.data)).toBe('one');
  });

  it('a stream deleted on the server under a publisher (503 on publish) is declared again and the publish resolves', async () => {
    const topic = `pub.deleted.${uid()}`;
    const t = await transport();
    await t.declareGroup(topic, 'g');
    await t.publish({ topic, message: message('before') });
    const jsm = await manager();
    await jsm.streams.delete(stream(topic));
    await t.publish({ topic, message: message('after') });
    expect((await jsm.streams.info(stream(topic))).config.subjects).toEqual([names('switchyard').subject(topic)]);
  });

  it('a request cannot name the inbox publish acks come back on as its reply address', async () => {
    const t = await transport();
    // The shape of Replies' subjects: _INBOX.<id>.r.<n>.
    await expect(t.sendToInbox('_INBOX.ABCDEF0123456789.r.1', message('forged ack'))).rejects.toBeInstanceOf(ValidationError);
  });
});
