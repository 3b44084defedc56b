/** What a closed bus leaves behind on the broker, and request/reply over the shared replies topic. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { createBus, silentLogger, type Bus, type Logger, type Transport, type WireMessage } from '@switchyard/core';
import { parseBusUrl } from '@switchyard/core/spi';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { createTransport } from '../src/index.js';
import { REPLIES_TOPIC } from '../src/replies.js';
import { brokersOf, KAFKA_URL } from './helpers.js';

const kafka = new Kafka({ clientId: 'lifecycle-test', brokers: brokersOf(KAFKA_URL), logLevel: logLevel.NOTHING });
const cleanups = cleanupAfterEach();

const uid = () => randomUUID().slice(0, 8);

async function bus(service: string, logger: Logger = silentLogger): Promise<Bus> {
  const b = await createBus({ url: KAFKA_URL, service, logger });
  cleanups.push(() => b.close({ drainTimeoutMs: 1000 }));
  return b;
}

/** A transport of its own, as the conformance suite uses one to look at the broker. */
async function transport(): Promise<Transport> {
  const { url, hosts } = parseBusUrl(KAFKA_URL);
  const t = await createTransport(url, { service: `lc-probe-${uid()}`, logger: silentLogger, hosts });
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

async function admin() {
  const a = kafka.admin();
  await a.connect();
  cleanups.push(() => a.disconnect());
  return a;
}

/** Counts replies that reached a bus nobody there waits for (core logs and drops them). */
function strayCounter(): { logger: Logger; strays: string[] } {
  const strays: string[] = [];
  const logger: Logger = { ...silentLogger, debug: (message, fields) => void (message.startsWith('Dropped a reply') && strays.push(String(fields?.['inReplyTo']))) };
  return { logger, strays };
}

const ephemeral = { maxAttempts: 1, retry: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1, factor: 2 }, deadLetterTopic: false as const, concurrency: 16, ephemeral: true };

describe('kafka bus close', () => {
  it('a process whose bus consumed and closed has no timer left running (the close-time commit flush ends with the commit)', async () => {
    // A child process on the built packages, where nothing else holds timers: what is still
    // active after close() would keep an app alive (the flush's 10 s deadline did).
    const topic = `close.timers.${uid()}`;
    const script = `
      const { createBus } = await import('@switchyard/core');
      const bus = await createBus({ url: ${JSON.stringify(KAFKA_URL)}, service: 'close-timers' });
      let handled;
      const done = new Promise((resolve) => { handled = resolve; });
      await bus.subscribe(${JSON.stringify(topic)}, () => handled(), { deadLetter: false });
      await bus.publish(${JSON.stringify(topic)}, { n: 1 });
      await done;
      await bus.close();
      console.log(JSON.stringify(process.getActiveResourcesInfo()));
      process.exit(0);`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 });
    const active = JSON.parse(stdout.trim().split('\n').pop()!) as string[];
    expect(active).not.toContain('Timeout');
  });

  it('a bus that made requests and closed leaves no reply topic, group or offsets; the services that replied keep publishing', async () => {
    const a = await admin();
    const probe = await transport();
    const topic = `lifecycle.rr.${uid()}`;
    const serverGroup = `srv-${uid()}`;
    const server = await bus(`lc-server-${uid()}`);
    await server.reply(topic, (m) => m.body, { group: serverGroup });
    const service = `lc-client-${uid()}`;
    const client = await bus(service);
    await expect(client.request(topic, 'ping', { timeoutMs: 30_000 })).resolves.toBe('ping');
    await expect(Promise.all(Array.from({ length: 20 }, (_, n) => client.request(topic, n, { timeoutMs: 30_000 })))).resolves.toEqual(Array.from({ length: 20 }, (_, n) => n));

    // The bus's reply topic is logical: its consumer group on the shared replies topic.
    const prefix = `switchyard.reply.${service}.`;
    const groups = (await a.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(prefix));
    expect(groups).toHaveLength(1);
    const replyTopic = groups[0]!.slice(groups[0]!.indexOf(':') + 1);
    expect(replyTopic.startsWith(prefix)).toBe(true);
    expect(groups[0]).toBe(`${replyTopic}:${replyTopic}`);
    const [offsets] = await a.fetchOffsets({ groupId: groups[0]!, topics: [REPLIES_TOPIC] });
    expect(offsets!.partitions.some((p) => Number(p.offset) > 0)).toBe(true);
    expect(await probe.exists!(replyTopic, replyTopic)).toBe(true);
    expect(await probe.exists!(replyTopic)).toBe(true);

    // Live ordinary topics and groups exist; unknown ones do not.
    expect(await probe.exists!(topic)).toBe(true);
    expect(await probe.exists!(topic, serverGroup)).toBe(true);
    expect(await probe.exists!(topic, `nobody-${uid()}`)).toBe(false);
    expect(await probe.exists!(`lifecycle.none.${uid()}`)).toBe(false);

    await client.close();
    expect(await probe.exists!(replyTopic, replyTopic)).toBe(false);
    expect(await probe.exists!(replyTopic)).toBe(false);
    expect((await a.listTopics()).filter((t) => t.startsWith('switchyard.reply.'))).not.toContainEqual(expect.stringContaining(service));
    expect((await a.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(prefix))).toEqual([]);
    const [after] = await a.fetchOffsets({ groupId: groups[0]!, topics: [REPLIES_TOPIC] });
    expect(after!.partitions.every((p) => Number(p.offset) < 0)).toBe(true);
    // Nothing was deleted that the server's producer knows of: it publishes on at once.
    const started = Date.now();
    await expect(server.publish(`lifecycle.after.${uid()}`, { still: 'fine' })).resolves.toHaveProperty('id');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await probe.exists!(topic, serverGroup)).toBe(true);
  });

  it('several buses request at once: each gets its own replies and no reply reaches another bus', async () => {
    const topic = `lifecycle.many.${uid()}`;
    const server = await bus(`lc-server-${uid()}`);
    await server.reply(topic, (m) => m.body, { concurrency: 16 });
    const clients = await Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        const { logger, strays } = strayCounter();
        return { c, strays, bus: await bus(`lc-many-${c}-${uid()}`, logger) };
      }),
    );
    const results = await Promise.all(clients.map(({ c, bus: b }) => Promise.all(Array.from({ length: 25 }, (_, n) => b.request(topic, { c, n }, { timeoutMs: 30_000 })))));
    for (const [c, replies] of results.entries()) expect(replies).toEqual(Array.from({ length: 25 }, (_, n) => ({ c, n })));
    // One more round after the others closed: the remaining bus still gets its replies, and only those.
    for (const { bus: b } of clients.slice(1)) await b.close();
    await expect(clients[0]!.bus.request(topic, { c: 0, n: 99 }, { timeoutMs: 30_000 })).resolves.toEqual({ c: 0, n: 99 });
    for (const { strays } of clients) expect(strays).toEqual([]);
  });

  it('transport level: a reply topic consumer gets exactly the replies sent to its topic', async () => {
    const sender = await transport();
    const inboxes = [`switchyard.reply.lc-inbox.${uid()}`, `switchyard.reply.lc-inbox.${uid()}`];
    const got = inboxes.map(() => new Collector<string>());
    for (const [i, inbox] of inboxes.entries()) {
      const t = await transport();
      const consumer = await t.consume(inbox, inbox, { prefetch: 16, policy: ephemeral }, (delivery) => {
        got[i]!.push(new TextDecoder().decode(delivery.message.body));
        void delivery.ack();
      });
      cleanups.push(async () => {
        await consumer.close();
        await t.deleteGroup!(inbox, inbox);
      });
    }
    const message = (text: string): WireMessage => ({ body: new TextEncoder().encode(text), headers: { 'ce-id': randomUUID() } });
    for (let n = 0; n < 10; n++) await Promise.all(inboxes.map((inbox, i) => sender.publish({ topic: inbox, message: message(`${i}-${n}`) })));
    for (const [i, collector] of got.entries()) {
      await collector.waitFor(10, 30_000);
      expect(collector.items.sort()).toEqual(Array.from({ length: 10 }, (_, n) => `${i}-${n}`).sort());
    }
    // Markers after everything else: nothing more arrives for either inbox.
    await Promise.all(inboxes.map((inbox, i) => sender.publish({ topic: inbox, message: message(`${i}-marker`) })));
    for (const [i, collector] of got.entries()) {
      await collector.waitFor(11, 30_000);
      expect(collector.items.filter((text) => !text.startsWith(`${i}-`))).toEqual([]);
    }
  });
});
