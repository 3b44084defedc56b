/** What a closed bus leaves behind on the broker. */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { createBus, silentLogger, type Bus } from '@switchyard/core';
import { brokersOf, KAFKA_URL } from './helpers.js';

const kafka = new Kafka({ clientId: 'lifecycle-test', brokers: brokersOf(KAFKA_URL), logLevel: logLevel.NOTHING });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((c) => c()));
});

async function bus(service: string): Promise<Bus> {
  const b = await createBus({ url: KAFKA_URL, service, logger: silentLogger });
  cleanups.push(() => b.close({ drainTimeoutMs: 1000 }));
  return b;
}

const uid = () => randomUUID().slice(0, 8);

describe('kafka bus close', () => {
  it("removes the consumer group of the bus's private reply topic; every service that replied keeps publishing", async () => {
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const topic = `lifecycle.rr.${uid()}`;
    const server = await bus(`lc-server-${uid()}`);
    await server.reply(topic, (m) => m.body);
    const service = `lc-client-${uid()}`;
    const client = await bus(service);
    await expect(client.request(topic, 'ping', { timeoutMs: 30_000 })).resolves.toBe('ping');

    const prefix = `switchyard.reply.${service}.`;
    const replyTopics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    expect(replyTopics).toHaveLength(1);
    const [replyTopic] = replyTopics;
    const groupId = `${replyTopic}:${replyTopic}`;
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain(groupId);

    await client.close();
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain(groupId);
    // The topic itself stays (README, caveats): deleting it would break the metadata of the
    // server's kafkajs producer, which wrote the reply, and fail its next publish.
    expect((await admin.listTopics()).filter((t) => t.startsWith(prefix))).toEqual([replyTopic]);
    const started = Date.now();
    await expect(server.publish(`lifecycle.after.${uid()}`, { still: 'fine' })).resolves.toHaveProperty('id');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
