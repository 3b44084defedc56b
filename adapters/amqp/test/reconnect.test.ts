/**
 * Connection loss, through a TCP proxy the test cuts and restores (the shared broker keeps running).
 * Waits on the adapter's own log events, never on fixed sleeps.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, createBus, type Bus, type Logger, type Message } from '@switchyard/core';
import { Collector, deferred } from '@switchyard/conformance';
import { CuttableProxy } from '@switchyard/conformance';
import { RABBITMQ_URL } from './helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  // One after the other: the bus closes before its proxy goes away.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** A logger whose messages can be awaited. */
class Events implements Logger {
  readonly seen = new Collector<string>();
  private count(message: string): number {
    return this.seen.items.filter((m) => m === message).length;
  }
  /** Resolves when `message` has been logged n times in total. */
  async nth(message: string, n: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.count(message) < n) {
      if (Date.now() > deadline) throw new Error(`"${message}" logged ${this.count(message)} times, expected ${n}`);
      await this.seen.waitFor(this.seen.items.length + 1, Math.max(1, deadline - Date.now())).catch(() => undefined);
    }
  }
  debug = (m: string) => this.seen.push(m);
  info = (m: string) => this.seen.push(m);
  warn = (m: string) => this.seen.push(m);
  error = (m: string) => this.seen.push(m);
}

const LOST = 'Lost the RabbitMQ connection; reconnecting';
const BACK = 'Reconnected to RabbitMQ';
const RESUMED = 'Resumed consuming';

async function setup(options: Record<string, string> = {}) {
  const target = new URL(RABBITMQ_URL);
  const proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port || 5672) });
  cleanups.push(() => proxy.close());
  const url = new URL(RABBITMQ_URL);
  url.host = `127.0.0.1:${proxy.port}`;
  url.searchParams.set('queueExpiresMs', '600000');
  url.searchParams.set('reconnectMinMs', '20');
  url.searchParams.set('reconnectMaxMs', '200');
  for (const [k, v] of Object.entries(options)) url.searchParams.set(k, v);
  const events = new Events();
  const bus: Bus = await createBus({ url: url.toString(), service: `rc-${randomUUID().slice(0, 6)}`, logger: events });
  cleanups.push(() => bus.close({ drainTimeoutMs: 1000 }));
  return { proxy, bus, events };
}

const uid = () => randomUUID().slice(0, 8);

describe('amqp reconnect', () => {
  it('a publish during an outage waits for the reconnect and is delivered; the consumer resumes', async () => {
    const { proxy, bus, events } = await setup();
    const topic = `rc.wait.${uid()}`;
    const got = new Collector<number>();
    const second = deferred();
    await bus.subscribe(
      topic,
      (m) => {
        const n = (m.body as { n: number }).n;
        got.push(n);
        if (n === 1) second.resolve();
      },
      { group: `g-${uid()}` },
    );
    await bus.publish(topic, { n: 0 });
    await got.waitFor(1);

    proxy.cut();
    await events.nth(LOST, 1);
    const outage = await bus.health();
    expect(outage.ok).toBe(false);
    expect(outage.details).toMatchObject({ state: 'reconnecting', busState: 'open' });
    const pending = bus.publish(topic, { n: 1 });
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    proxy.restore();
    await expect(pending).resolves.toHaveProperty('id');
    await events.nth(BACK, 1);
    await events.nth(RESUMED, 1);
    await second.promise;
    // n=0 may come twice (its ack can be lost with the connection): at least once, never lost.
    expect(new Set(got.items)).toEqual(new Set([0, 1]));
    expect((await bus.health()).ok).toBe(true);
    expect((await bus.health()).details).toMatchObject({ state: 'open', busState: 'open', reconnects: 1 });
  });

  it('a publish during an outage longer than publishTimeoutMs fails with ConnectionError, URL redacted', async () => {
    const { proxy, bus, events } = await setup({ publishTimeoutMs: '300' });
    proxy.cut();
    await events.nth(LOST, 1);
    const err = await bus.publish(`rc.fail.${uid()}`, { n: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    const password = new URL(RABBITMQ_URL).password;
    if (password) expect((err as Error).message).not.toContain(`:${password}@`);
    proxy.restore();
    await events.nth(BACK, 1);
    await expect(bus.publish(`rc.fail.${uid()}`, { n: 2 })).resolves.toHaveProperty('id');
  });

  it('messages held when the connection dies come back with attempt + 1; acks on the dead channel are swallowed', async () => {
    const { proxy, bus, events } = await setup();
    const topic = `rc.crash.${uid()}`;
    const group = `g-${uid()}`;
    const got = new Collector<Message>();
    const holding = deferred();
    const release = deferred();
    await bus.subscribe(
      topic,
      async (m) => {
        got.push(m);
        if (m.attempt === 1) {
          holding.resolve();
          await release.promise; // acked only after the connection is gone
        }
      },
      { group },
    );
    await bus.publish(topic, { n: 1 });
    await holding.promise;
    proxy.cut();
    await events.nth(LOST, 1);
    release.resolve(); // the runner acks on a closed channel: must not throw out of core
    proxy.restore();
    await got.waitFor(2);
    expect(got.items.map((m) => m.attempt)).toEqual([1, 2]);
    expect(events.seen.items).not.toContain('Settling a message failed; the broker will redeliver it');
  });

  it('request/reply works again after a reconnect (the inbox consumes under a new reply-to token)', async () => {
    const { proxy, bus, events } = await setup();
    const topic = `rc.rr.${uid()}`;
    await bus.reply(topic, (m) => ({ echo: m.body }));
    await expect(bus.request(topic, 1, { timeoutMs: 10_000 })).resolves.toEqual({ echo: 1 });
    proxy.cut();
    await events.nth(LOST, 1);
    proxy.restore();
    await events.nth(BACK, 1);
    // Consumer and inbox both re-attached; requests now name the inbox's new token.
    await events.nth(RESUMED, 2);
    await expect(bus.request(topic, 2, { timeoutMs: 10_000 })).resolves.toEqual({ echo: 2 });
  });
});
