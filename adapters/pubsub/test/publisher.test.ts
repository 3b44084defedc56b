/** How publishes reach Pub/Sub: batched per topic by the transport, one RPC per request, a refused batch not failing innocent messages. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { silentLogger, ValidationError } from '@switchyard/core';
import { cleanupAfterEach } from '@switchyard/conformance';
import type { protos } from '@google-cloud/pubsub';
import { PubSubTransport } from '../src/transport.js';
import { parsePubSubUrl } from '../src/options.js';
import { urlWith } from './helpers.js';

type PublishRequest = protos.google.pubsub.v1.IPublishRequest;

const cleanups = cleanupAfterEach();
const uid = () => randomUUID().slice(0, 8);
const wire = (n: number, key?: string) => ({ body: new TextEncoder().encode(`m${n}`), headers: { 'ce-id': uid(), n: String(n) }, ...(key ? { key } : {}) });

async function transport(): Promise<PubSubTransport> {
  const t = new PubSubTransport(parsePubSubUrl(new URL(urlWith({}))), silentLogger);
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

/**
 * Records, for one topic, the requests the transport hands the client (its `publish` method) and
 * the Publish RPCs the client's gRPC stub then makes — both on the real client, which still talks
 * to the emulator.
 */
async function recordPublishes(t: PubSubTransport, topic: string): Promise<{ requests: number[]; rpcs: number[] }> {
  const path = t.topicPath(topic);
  const seen = { requests: [] as number[], rpcs: [] as number[] };
  const client = t.publisherClient;
  const publish = client.publish.bind(client);
  client.publish = ((request: PublishRequest, ...rest: unknown[]) => {
    if (request.topic === path) seen.requests.push(request.messages?.length ?? 0);
    return (publish as (...args: unknown[]) => unknown)(request, ...rest);
  }) as typeof client.publish;
  const stub = (await client.publisherStub) as unknown as Record<'publish', (request: PublishRequest, ...rest: unknown[]) => unknown>;
  const rpc = stub.publish.bind(stub);
  stub.publish = (request, ...rest) => {
    if (request.topic === path) seen.rpcs.push(request.messages?.length ?? 0);
    return rpc(request, ...rest);
  };
  return seen;
}

async function pullAll(t: PubSubTransport, topic: string, count: number): Promise<string[]> {
  const bodies: string[] = [];
  while (bodies.length < count) {
    const got = await t.pull(topic, 'g', { max: count, waitMs: 5_000 });
    if (got.length === 0) break;
    for (const d of got) {
      bodies.push(new TextDecoder().decode(d.message.body));
      await d.ack();
    }
  }
  return bodies.sort();
}

describe('pubsub publishing', () => {
  it('concurrent publishes to one topic share Publish requests, each request one RPC (no client-side bundling holding it)', async () => {
    const t = await transport();
    const topic = `batch.${uid()}`;
    await t.declareGroup(topic, 'g');
    const seen = await recordPublishes(t, topic);
    const count = 40;
    // Two ordering keys and keyless messages share requests.
    await Promise.all(Array.from({ length: count }, (_, n) => t.publish({ topic, message: wire(n, n % 3 === 0 ? undefined : `k${n % 3}`) })));
    expect(seen.requests.reduce((a, b) => a + b, 0)).toBe(count);
    expect(seen.requests.length).toBeLessThan(count);
    // gax's own bundling would merge (and delay) requests into fewer RPCs than the transport made.
    expect(seen.rpcs).toEqual(seen.requests);
    expect(await pullAll(t, topic, count)).toEqual(Array.from({ length: count }, (_, n) => `m${n}`).sort());
  });

  it('a batch Pub/Sub refuses as a whole fails only the bad message: the others are sent again one by one', async () => {
    const t = await transport();
    const topic = `refused.${uid()}`;
    await t.declareGroup(topic, 'g');
    const seen = await recordPublishes(t, topic);
    // No data and no attributes: Pub/Sub (the emulator too) answers INVALID_ARGUMENT "Some messages are empty" for the whole request.
    const empty = { body: new Uint8Array(0), headers: {} };
    const results = await Promise.allSettled([t.publish({ topic, message: wire(1) }), t.publish({ topic, message: empty }), t.publish({ topic, message: wire(2) })]);
    // The three went out in one request first, which was refused.
    expect(seen.requests[0]).toBe(3);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refusal = (results[1] as PromiseRejectedResult).reason;
    expect(refusal).toBeInstanceOf(ValidationError);
    expect(String(refusal.message)).toMatch(/Nothing was sent/);
    expect(await pullAll(t, topic, 2)).toEqual(['m1', 'm2']);
  });

  it('publishes after close fail with ClosedError, those queued at close too', async () => {
    const t = await transport();
    const topic = `closing.${uid()}`;
    await t.ensureTopic(topic);
    const queued = t.publish({ topic, message: wire(1) });
    await t.close();
    await expect(queued).rejects.toThrow(/closed/);
    await expect(t.publish({ topic, message: wire(2) })).rejects.toThrow(/closed/);
  });
});
