/**
 * Issue 8 on a real Kafka: a record too large to dead-letter whole, a handler that hangs for
 * ever, and a long emulated delay. Each scenario checks the group's committed offsets, or
 * restarts the group and shows nothing is handled twice.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigResourceTypes, Kafka, logLevel, Partitioners, type Admin, type IHeaders, type PartitionMetadata } from 'kafkajs';
import { createBus, silentLogger, type Bus, type Message } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { brokersOf, KAFKA_URL } from './helpers.js';

const kafka = new Kafka({ clientId: 'hardening-test', brokers: brokersOf(KAFKA_URL), logLevel: logLevel.NOTHING });
const cleanups = cleanupAfterEach();

const uid = () => randomUUID().slice(0, 8);

async function bus(): Promise<Bus> {
  const b = await createBus({ url: KAFKA_URL, service: `hard-${uid()}`, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 1000 }));
  return b;
}

async function admin(): Promise<Admin> {
  const a = kafka.admin();
  await a.connect();
  cleanups.push(() => a.disconnect());
  return a;
}

/** Kafka's consumer group for a Switchyard group (see transport.ts kafkaGroupId). */
const groupId = (topic: string, group: string) => `${group}:${topic}`;

async function partitionCount(a: Admin, topic: string): Promise<number> {
  const { topics } = await a.fetchTopicMetadata({ topics: [topic] });
  return topics[0]!.partitions.length;
}

/** One key per partition, found with the partitioner the transport uses (kafkajs DefaultPartitioner, murmur2). */
function keysPerPartition(partitions: number, label: string, perPartition = 1): string[][] {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0 }) as PartitionMetadata);
  const buckets: string[][] = Array.from({ length: partitions }, () => []);
  for (let i = 0; buckets.some((b) => b.length < perPartition); i++) {
    const key = `${label}-${i}`;
    const p = partitioner({ topic: 'any', partitionMetadata, message: { key, value: null } });
    if (buckets[p]!.length < perPartition) buckets[p]!.push(key);
  }
  return buckets;
}

/** Wait until the group has committed every partition's end offset: nothing of it is still unsettled. */
async function waitUntilCommittedToEnd(a: Admin, topic: string, group: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const ends = await a.fetchTopicOffsets(topic);
    const [committed] = await a.fetchOffsets({ groupId: groupId(topic, group), topics: [topic] });
    const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
    const behind = ends.filter((e) => at.get(e.partition) !== e.high);
    if (behind.length === 0) return;
    last = behind.map((e) => `p${e.partition}: committed ${at.get(e.partition)} of ${e.high}`).join(', ');
    if (Date.now() > deadline) throw new Error(`Group ${group} still has unsettled messages on ${topic}: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Size of a v2 record batch holding one record (what the broker compares with max.message.bytes). */
function recordBatchBytes(valueBytes: number, headers: Record<string, string>): number {
  const varint = (n: number) => {
    let zz = n >= 0 ? n * 2 : -n * 2 - 1;
    let bytes = 1;
    while (zz >= 128) {
      zz = Math.floor(zz / 128);
      bytes++;
    }
    return bytes;
  };
  let headerBytes = varint(Object.keys(headers).length);
  for (const [k, v] of Object.entries(headers)) headerBytes += varint(Buffer.byteLength(k)) + Buffer.byteLength(k) + varint(Buffer.byteLength(v)) + Buffer.byteLength(v);
  // attributes, timestamp delta, offset delta, null key, value, headers
  const body = 1 + varint(0) + varint(0) + varint(-1) + varint(valueBytes) + valueBytes + headerBytes;
  return 61 + varint(body) + body;
}

describe('kafka hardening (issue 8)', () => {
  it.each([
    { label: '1,020,000 bytes', size: (_limit: number, _headers: Record<string, string>) => 1_020_000 },
    // So large that the whole record plus any dead-letter header is over the topic's limit.
    { label: 'the topic limit less 64 bytes', size: (limit: number, headers: Record<string, string>) => limit - 64 - (recordBatchBytes(0, headers) + 3) },
  ])('a foreign record of $label with bad JSON is dead-lettered once without its body; the 10 behind it are handled once, also across a restart', async ({ size }) => {
    const topic = `hard.bigbody.${uid()}`;
    const group = `g-${uid()}`;
    const a = await admin();
    const watcher = await bus();
    const dead = new Collector<Message>();
    await watcher.subscribe(`${topic}.dlq`, (m) => dead.push(m), { group: `dlq-${uid()}` });
    const first = await bus();
    const handled = new Collector<Message>();
    await first.subscribe(topic, (m) => handled.push(m), { group, concurrency: 4 });

    // What the broker takes for this topic; the plain producer's record must fit it.
    const config = await a.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }] });
    const limit = Number(config.resources[0]!.configEntries.find((e) => e.configName === 'max.message.bytes')!.configValue);
    const bigId = `evt-big-${uid()}`;
    const headers = { ce_specversion: '1.0', ce_id: bigId, ce_type: 'com.example.export', ce_source: '/legacy/java', 'content-type': 'application/json', tenant: 'acme' };
    const bytes = size(limit, headers);
    expect(bytes).toBeGreaterThan(1_000_000 + 4096); // over what the transport takes for a dead-letter copy
    expect(recordBatchBytes(bytes, headers)).toBeLessThanOrEqual(limit);
    const body = Buffer.alloc(bytes, 0x20);
    body.write('{"rows": [1, 2, '); // never closed: not JSON

    const partitions = await partitionCount(a, topic);
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: body, headers }] });
    const normalIds = Array.from({ length: 10 }, (_, n) => `evt-${n}-${uid()}`);
    await producer.send({
      topic,
      acks: -1,
      messages: normalIds.map((id, n) => ({
        partition: n % partitions, // 0 too: some wait behind the big record in its partition
        value: JSON.stringify({ n }),
        headers: { ce_specversion: '1.0', ce_id: id, ce_type: 'com.example.row', ce_source: '/legacy/java', 'content-type': 'application/json' },
      })),
    });

    const [copy] = await dead.waitFor(1, 60_000, 'dead letters');
    await handled.waitFor(10, 60_000);
    expect(copy!.id).toBe(bigId);
    expect(copy!.headers['x-switchyard-body-omitted']).toBe(String(bytes));
    expect(copy!.headers['x-switchyard-original-content-type']).toBe('application/json');
    expect(copy!.headers['x-switchyard-original-topic']).toBe(topic);
    expect(copy!.headers['tenant']).toBe('acme');
    expect((copy!.body as Uint8Array).byteLength).toBe(0);
    expect(handled.items.map((m) => m.id).sort()).toEqual([...normalIds].sort());
    await waitUntilCommittedToEnd(a, topic, group);
    await first.close();

    // The group restarted: markers on every partition arrive, nothing before them comes back.
    const second = await bus();
    const again = new Collector<Message>();
    await second.subscribe(topic, (m) => again.push(m), { group, concurrency: 4 });
    const markerKeys = keysPerPartition(partitions, 'marker').map(([k]) => k!);
    for (const key of markerKeys) await second.publish(topic, { marker: key }, { key });
    await again.waitFor(markerKeys.length, 60_000, 'markers');
    await second.close();
    expect(again.items.map((m) => m.key).sort()).toEqual([...markerKeys].sort());

    // Exactly one dead letter: markers through every DLQ partition arrive after any second copy.
    const dlqMarkers = keysPerPartition(partitions, 'dlq-marker').map(([k]) => k!);
    for (const key of dlqMarkers) await watcher.publish(`${topic}.dlq`, { marker: key }, { key });
    await dead.waitFor(1 + dlqMarkers.length, 60_000, 'dead letters and markers');
    expect(dead.items.filter((m) => m.id === bigId)).toHaveLength(1);
    expect(dead.items).toHaveLength(1 + dlqMarkers.length);
  });

  it('handlers that hang for ever (ignoring ctx.signal) are timed out and dead-lettered; the other messages are handled, the member stays, nothing stays unsettled', async () => {
    const topic = `hard.hung.${uid()}`;
    const group = `g-${uid()}`;
    const a = await admin();
    const watcher = await bus();
    const dead = new Collector<Message>();
    await watcher.subscribe(`${topic}.dlq`, (m) => dead.push(m), { group: `dlq-${uid()}` });
    const b = await bus();
    const handled = new Collector<number>();
    const aborted = new Collector<string>();
    const hung = new Set([3, 11, 19, 27, 35]);
    await b.subscribe(
      topic,
      (m, ctx) => {
        const { n } = m.body as { n: number };
        if (!hung.has(n)) return handled.push(n);
        ctx.signal.addEventListener('abort', () => aborted.push(`${n}@${m.attempt}`));
        return new Promise<void>(() => {}); // never settles, ignores the signal
      },
      { group, concurrency: 4, handlerTimeoutMs: 500, retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 50, factor: 2 } },
    );
    const partitions = await partitionCount(a, topic);
    const keys = keysPerPartition(partitions, 'row', 10).flat(); // 10 per partition
    const [before] = (await a.describeGroups([groupId(topic, group)])).groups;
    expect(before!.members).toHaveLength(1);

    for (let n = 0; n < 40; n++) await b.publish(topic, { n }, { key: keys[n]! });
    await handled.waitFor(40 - hung.size, 60_000);
    await dead.waitFor(hung.size, 60_000, 'dead letters');
    expect(handled.items.sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, n) => n).filter((n) => !hung.has(n)));
    expect(dead.items.map((m) => (m.body as { n: number }).n).sort((x, y) => x - y)).toEqual([...hung]);
    for (const d of dead.items) {
      expect(d.headers['x-switchyard-error']).toMatch(/did not finish within 500 ms/);
      expect(d.headers['x-switchyard-attempts']).toBe('2');
    }
    expect(aborted.items.sort()).toEqual([...hung].flatMap((n) => [`${n}@1`, `${n}@2`]).sort());

    // Nothing stuck: the group committed every partition to its end while the bus is still open,
    // and the same member is still in it (no rebalance, no eviction).
    await waitUntilCommittedToEnd(a, topic, group);
    const [after] = (await a.describeGroups([groupId(topic, group)])).groups;
    expect(after!.state).toBe('Stable');
    expect(after!.members.map((m) => m.memberId)).toEqual(before!.members.map((m) => m.memberId));
  });

  it("a delayed copy republished for another group is settled at once: it never holds back this group's commits", async () => {
    const topic = `hard.foreign.${uid()}`;
    const groupA = `a-${uid()}`;
    const groupB = `b-${uid()}`;
    const a = await admin();
    const busA = await bus();
    await busA.subscribe(topic, () => undefined, { group: groupA });
    const partitions = await partitionCount(a, topic);
    const key0 = keysPerPartition(partitions, 'foreign')[0]![0]!;
    const copies = new Collector<string>();
    const plain = kafka.consumer({ groupId: `plain-${uid()}`, maxWaitTimeInMs: 250 });
    await plain.connect();
    cleanups.push(() => plain.disconnect());
    await plain.subscribe({ topic, fromBeginning: true });
    await plain.run({
      eachMessage: async ({ message }) => {
        const forGroup = message.headers?.['x-switchyard-for-group']?.toString();
        if (forGroup !== undefined) copies.push(forGroup);
      },
    });
    await busA.publish(topic, { n: 'in ten minutes' }, { delayMs: 600_000, key: key0 });

    // Group B starts after the original: all it reads of it are group A's copies.
    const busB = await bus();
    const seenB = new Collector<string>();
    await busB.subscribe(topic, (m) => seenB.push((m.body as { n: string }).n), { group: groupB });
    const before = copies.items.length;
    await copies.waitFor(before + 1, 60_000, "group A's republished copies");
    expect(copies.items.at(-1)).toBe(groupA);
    // Right behind that copy in its partition; B stops soon after handling it.
    await busB.publish(topic, { n: 'behind the copy' }, { key: key0 });
    await seenB.waitFor(1, 30_000);
    await busB.close();

    const restarted = await bus();
    const again = new Collector<string>();
    await restarted.subscribe(topic, (m) => again.push((m.body as { n: string }).n), { group: groupB });
    const markerKeys = keysPerPartition(partitions, 'marker').map(([k]) => k!);
    for (const key of markerKeys) await restarted.publish(topic, { n: `marker-${key}` }, { key });
    await again.waitFor(markerKeys.length, 60_000, 'markers');
    expect(seenB.items).toEqual(['behind the copy']);
    expect(again.items.filter((n) => !n.startsWith('marker-'))).toEqual([]);
  });

  it('a message delayed 10 minutes is republished for its group; the 20 behind it are handled once, also across a restart', async () => {
    const topic = `hard.delay.${uid()}`;
    const group = `g-${uid()}`;
    const a = await admin();
    const first = await bus();
    const seen = new Collector<string>();
    await first.subscribe(topic, (m) => seen.push((m.body as { n: string }).n), { group, concurrency: 1 });
    const partitions = await partitionCount(a, topic);
    const keys = keysPerPartition(partitions, 'delay', 6);

    // A plain consumer of the topic in its own group sees what the broker stores.
    const copies = new Collector<{ id: string | undefined; forGroup: string | undefined; notBefore: string | undefined }>();
    const plain = kafka.consumer({ groupId: `plain-${uid()}`, maxWaitTimeInMs: 250 });
    await plain.connect();
    cleanups.push(() => plain.disconnect());
    await plain.subscribe({ topic, fromBeginning: true });
    const text = (headers: IHeaders | undefined, name: string) => headers?.[name]?.toString();
    await plain.run({
      eachMessage: async ({ message }) => {
        copies.push({ id: text(message.headers, 'ce_id'), forGroup: text(message.headers, 'x-switchyard-for-group'), notBefore: text(message.headers, 'ce_notbefore') });
      },
    });

    const { id: delayedId } = await first.publish(topic, { n: 'in ten minutes' }, { delayMs: 600_000, key: keys[0]![0]! });
    // 20 behind it, 5 per partition, including the delayed message's own.
    const behind = keys.flatMap((k) => k.slice(1, 6));
    for (let i = 0; i < 20; i++) await first.publish(topic, { n: `now-${i}` }, { key: behind[i]! });
    await seen.waitFor(20, 60_000);

    // Past the short hold, core republishes it for the group with the same not-before time.
    const deadline = Date.now() + 60_000;
    while (!copies.items.some((c) => c.id === delayedId && c.forGroup !== undefined)) {
      if (Date.now() > deadline) throw new Error('no republished copy of the delayed message within 60 s');
      await copies.waitFor(copies.items.length + 1, Math.max(1, deadline - Date.now())).catch(() => undefined);
    }
    const original = copies.items.find((c) => c.id === delayedId && c.forGroup === undefined)!;
    const copy = copies.items.find((c) => c.id === delayedId && c.forGroup !== undefined)!;
    expect(copy.forGroup).toBe(group);
    expect(copy.notBefore).toBe(original.notBefore);
    await first.close();

    const second = await bus();
    const again = new Collector<string>();
    await second.subscribe(topic, (m) => again.push((m.body as { n: string }).n), { group, concurrency: 1 });
    const markerKeys = keysPerPartition(partitions, 'marker').map(([k]) => k!);
    for (const key of markerKeys) await second.publish(topic, { n: `marker-${key}` }, { key });
    await again.waitFor(markerKeys.length, 60_000, 'markers');
    expect(seen.items.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `now-${i}`).sort());
    expect(again.items.filter((n) => !n.startsWith('marker-'))).toEqual([]);
  });
});
