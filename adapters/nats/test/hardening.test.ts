/** What the conformance suite cannot see from the Bus API: JetStream specifics, across processes and against a hostile peer. */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { createInbox, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { type Bus, ConfigurationError, createBus, DEFAULT_RETRY, type Message, NoResponderError, silentLogger, ValidationError } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { createNatsTransport, type NatsTransport } from '../src/transport.js';
import { NATS_URL, removeTestStreams, urlWith, plainConnection } from './helpers.js';

const started = new Date();
afterAll(() => removeTestStreams(started, ['hard.', 'switchyard.reply.']));
const cleanups = cleanupAfterEach();

const uid = () => randomUUID().slice(0, 8);

async function transport(url = NATS_URL): Promise<NatsTransport> {
  const t = createNatsTransport(new URL(url), { service: `hard-${uid()}`, logger: silentLogger });
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

async function bus(options: { url?: string; transport?: NatsTransport } = {}): Promise<Bus> {
  const b = await createBus({ url: options.url ?? NATS_URL, service: `hard-${uid()}`, logger: silentLogger, ...(options.transport ? { transport: options.transport } : {}) });
  cleanups.push(() => b.close({ drainTimeoutMs: 500 }));
  return b;
}

const plain = () => plainConnection(cleanups);

const policy = (maxAttempts: number, deadLetterTopic: string | false, ephemeral = false) => ({
  maxAttempts,
  retry: { ...DEFAULT_RETRY, maxAttempts },
  deadLetterTopic,
  concurrency: 1,
  ephemeral,
});

describe('nats hardening', () => {
  it('a request nobody serves fails with NoResponderError in milliseconds, not at its timeout', async () => {
    const b = await bus();
    const started = Date.now();
    await expect(b.request(`hard.nobody.${uid()}`, {}, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(NoResponderError);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a group policy is kept on the server: another process with other maxAttempts is refused while a member is live, accepted once it left', async () => {
    const topic = `hard.policy.${uid()}`;
    const group = `g-${uid()}`;
    const [a, b] = [await bus(), await bus()]; // two transports: two processes as far as the server can tell
    const subA = await a.subscribe(topic, () => undefined, { group, retry: { maxAttempts: 3 } });
    await expect(b.subscribe(topic, () => undefined, { group, retry: { maxAttempts: 5 } })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(b.subscribe(topic, () => undefined, { group, retry: { maxAttempts: 3 }, deadLetter: false })).rejects.toThrow(/already consumed with maxAttempts 3/);
    await subA.close();
    const got = new Collector<Message>();
    await b.subscribe(topic, (m) => got.push(m), { group, retry: { maxAttempts: 5 } });
    await b.publish(topic, { n: 1 });
    await got.waitFor(1);
    const info = await (await jetstreamManager(await plain())).consumers.info(`switchyard_${topic.replace(/\./g, '_2E')}`, group);
    expect(info.config.max_deliver).toBe(5 + 20);
    expect(info.config.metadata?.['switchyard.max-attempts']).toBe('5');
  });

  it('a reply is only ever sent to an inbox: a request naming a JetStream API subject as ce-replyto gets no reply there', async () => {
    const t = await transport();
    await expect(t.sendToInbox('$JS.API.STREAM.DELETE.victim', { body: new Uint8Array(), headers: {} })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.sendToInbox('_INBOX.a.*', { body: new Uint8Array(), headers: {} })).rejects.toBeInstanceOf(ValidationError);

    const topic = `hard.inject.${uid()}`;
    const server = await bus();
    const handled = new Collector<Message>();
    await server.reply(topic, (m) => {
      handled.push(m);
      return 'ok';
    });
    const victim = `hard.victim.${uid()}`;
    await server.publish(victim, 'x'); // makes its stream
    const nc = await plain();
    const send = async (replyTo: string, id: string) => {
      const h = headers();
      for (const [k, v] of Object.entries({ 'ce-specversion': '1.0', 'ce-id': id, 'ce-type': topic, 'ce-source': 'evil', 'ce-replyto': replyTo })) h.set(k, v);
      await jetstream(nc).publish(`switchyard.${topic}`, 'hi', { headers: h });
    };
    const inbox = createInbox();
    const replies = new Collector<Msg>();
    nc.subscribe(inbox, { callback: (_e, m) => replies.push(m) });
    await send(`$JS.API.STREAM.DELETE.switchyard_${victim.replace(/\./g, '_2E')}`, 'evil-1');
    await send(inbox, 'good-2'); // handled after the first (concurrency 1), so its reply means the first was dealt with
    await replies.waitFor(1);
    expect(handled.items.map((m) => m.id)).toEqual(['evil-1', 'good-2']);
    expect(await t.exists(victim)).toBe(true);
  });

  it('messages not due yet (emulated delay) wait outside the prefetch: a due message behind ten of them is handled at once', async () => {
    const b = await bus();
    const topic = `hard.delay.${uid()}`;
    const got = new Collector<{ n: number; at: number }>();
    await b.subscribe(topic, (m) => got.push({ n: (m.body as { n: number }).n, at: Date.now() }), { concurrency: 1 });
    // Prefetch at concurrency 1 is 5: ten held deliveries would fill it twice over.
    for (let n = 1; n <= 10; n++) await b.publish(topic, { n }, { delayMs: 3_000 });
    const sent = Date.now();
    await b.publish(topic, { n: 0 });
    await got.waitFor(1);
    expect(got.items[0]!.n).toBe(0);
    expect(got.items[0]!.at - sent).toBeLessThan(2_000);
    await got.waitFor(11, 20_000);
    expect(got.items.slice(1).every((x) => x.at - sent >= 2_500)).toBe(true);
  });

  it('headers the NATS server would act on are refused before sending', async () => {
    const b = await bus();
    const topic = `hard.hdr.${uid()}`;
    const got = new Collector<Message>();
    await b.subscribe(topic, (m) => got.push(m));
    await expect(b.publish(topic, 'x', { headers: { 'Nats-Msg-Id': 'fixed' } })).rejects.toBeInstanceOf(ValidationError);
    await expect(b.publish(topic, 'x', { headers: { 'nats-expected-stream': 'other' } })).rejects.toThrow(/reserved by the NATS server/);
    await b.publish(topic, 'marker');
    await got.waitFor(1);
    expect(got.items.map((m) => m.body)).toEqual(['marker']);
  });

  it('a stream made outside Switchyard that captures the subject is a clear ConfigurationError', async () => {
    const topic = `hard.foreign.${uid()}`;
    const jsm = await jetstreamManager(await plain());
    const name = `foreign_${uid()}`;
    // Its topic in the metadata, so the clean-up after this file removes it with the rest.
    await jsm.streams.add({ name, subjects: [`switchyard.${topic}`], retention: RetentionPolicy.Limits, metadata: { 'switchyard.topic': topic } });
    const b = await bus();
    await expect(b.publish(topic, 'x')).rejects.toThrow(/Another NATS stream already captures "switchyard\.hard\.foreign/);
    await expect(b.subscribe(topic, () => undefined)).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('a consumer that dies without settling: its message comes back after AckWait with the server-counted attempt 2', async () => {
    const url = urlWith({ ackWaitMs: '1000' });
    const topic = `hard.crash.${uid()}`;
    const group = `g-${uid()}`;
    const doomed = await transport(url);
    const a = await bus({ url, transport: doomed });
    const held = new Collector<Message>();
    await a.subscribe(topic, (m) => new Promise<void>(() => held.push(m)), { group });
    await a.publish(topic, { n: 1 });
    await held.waitFor(1);
    // The process dies: its connection goes without a nak or an ack.
    await (doomed as unknown as { connection: { nc: NatsConnection } }).connection.nc.close();
    const b = await bus({ url });
    const got = new Collector<Message>();
    await b.subscribe(topic, (m) => got.push(m), { group });
    const [m] = await got.waitFor(1, 15_000);
    expect(m!.attempt).toBe(2);
    expect(m!.id).toBe(held.items[0]!.id);
  });

  it('ephemeral groups expire on the server, deleteGroup removes them, and a private reply topic loses its stream with its last group', async () => {
    const t = await transport();
    const topic = `switchyard.reply.${uid()}`;
    await t.declareGroup(topic, topic, policy(1, false, true));
    expect(await t.exists(topic, topic)).toBe(true);
    const info = await (await jetstreamManager(await plain())).consumers.info(`switchyard_${topic.replace(/\./g, '_2E')}`, topic.replace(/\./g, '_2E'));
    expect(info.config.inactive_threshold).toBeGreaterThan(0);
    await t.deleteGroup(topic, topic);
    expect(await t.exists(topic, topic)).toBe(false);
    expect(await t.exists(topic)).toBe(false);
    // An ordinary topic keeps its stream: other groups may come.
    const other = `hard.keep.${uid()}`;
    await t.declareGroup(other, 'g');
    await t.deleteGroup(other, 'g');
    expect(await t.exists(other)).toBe(true);
  });

  it('health shows the server without credentials, and is not ok once closed', async () => {
    const t = createNatsTransport(new URL(NATS_URL.replace('nats://', 'nats://tok3n-secret@')), { service: 'h', logger: silentLogger });
    await t.connect().catch(() => undefined); // the local server takes any token when it has no auth
    const health = await t.health();
    expect(JSON.stringify(health)).not.toContain('tok3n-secret');
    await t.close();
    expect((await t.health()).ok).toBe(false);
  });
});
