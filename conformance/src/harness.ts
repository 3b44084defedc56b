import { randomUUID } from 'node:crypto';
import { afterEach } from 'vitest';
import {
  createBus,
  memoryIdempotencyStore,
  silentLogger,
  type Bus,
  type Capabilities,
  type IdempotencyStore,
  type Logger,
  type ConsumeOptions,
  type Delivery,
  type PublishRequest,
  type PulledMessage,
  type Transport,
  type WireMessage,
} from '@switchyard/core';
import { createTransport, parseBusUrl } from '@switchyard/core/spi';

export interface ConformanceOptions {
  /** Name in test titles and the report, e.g. "rabbitmq". */
  name: string;
  /** Broker URL. Give this or createBus. */
  url?: string;
  /** Build a bus for a service name (custom transports, extra options). */
  createBus?: (service: string) => Promise<Bus>;
  /** Restart the broker keeping its data (enables the restart case). */
  restartBroker?: () => Promise<void>;
  /** Where the JSON report goes. Default: $SWITCHYARD_CONFORMANCE_REPORT_DIR or ./conformance-reports. */
  reportDir?: string;
  /** Multiply every case's timeout (slow brokers, slow CI). Default 1. */
  timeoutScale?: number;
  /** Messages in the volume and restart cases. Default 10,000. */
  volumeMessages?: number;
  /**
   * The idempotency store the `idempotency.*` cases use, one call per store they need (a new
   * client of your shared store, e.g. Redis). Default: a fresh memoryIdempotencyStore().
   */
  createStore?: () => Promise<IdempotencyStore & { close?(): Promise<void> }>;
  /**
   * Run only the cases whose id starts with one of these, e.g. ['idempotency.'] to prove a store
   * on a broker without repeating the whole suite. Default: every case.
   */
  only?: readonly string[];
  logger?: Logger;
}

export type Expect = typeof import('vitest').expect;

/** What one case gets: fresh buses and unique names, cleaned up when it ends. */
export class Harness {
  private readonly buses: Bus[] = [];
  private readonly transports: Transport[] = [];
  private readonly stores: (IdempotencyStore & { close?(): Promise<void> })[] = [];
  readonly run = randomUUID().slice(0, 8);

  constructor(
    readonly options: ConformanceOptions,
    readonly capabilities: Capabilities,
  ) {}

  async bus(service = `svc-${this.run}`): Promise<Bus> {
    const bus = this.options.createBus
      ? await this.options.createBus(service)
      : await createBus({ url: this.options.url ?? 'memory://', service, logger: this.options.logger ?? silentLogger });
    this.buses.push(bus);
    return bus;
  }

  /**
   * A bus on the real broker whose transport passes every publish through `publish` first, to
   * inject a refusal the broker would give (only with options.url: the suite builds the transport).
   */
  async faultyBus(publish: (request: PublishRequest, next: (request: PublishRequest) => Promise<void>) => Promise<void>, service = `svc-${this.run}`): Promise<Bus> {
    return (await this.wrappedBus(service, (inner) => ({ publish: (request: PublishRequest) => publish(request, (r) => inner.publish(r)) }))).bus;
  }

  /**
   * A bus on the real broker that records the private resources it opens for replies: groups it
   * consumes with an ephemeral policy and native inbox addresses (only with options.url).
   */
  async observedBus(service = `svc-${this.run}`): Promise<{ bus: Bus; ephemeral: { topic: string; group: string }[]; inboxes: string[] }> {
    const ephemeral: { topic: string; group: string }[] = [];
    const inboxes: string[] = [];
    const { bus } = await this.wrappedBus(service, (inner) => ({
      consume: (topic: string, group: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void) => {
        if (options.policy.ephemeral) ephemeral.push({ topic, group });
        return inner.consume(topic, group, options, onDelivery);
      },
      ...(inner.createInbox
        ? {
            createInbox: async (onMessage: (message: WireMessage) => void) => {
              const inbox = await inner.createInbox!(onMessage);
              inboxes.push(inbox.address);
              return inbox;
            },
          }
        : {}),
    }));
    return { bus, ephemeral, inboxes };
  }

  /** A transport of its own on the broker, to look at what buses left there (closed with the case). */
  async inspector(): Promise<Transport> {
    if (this.options.url === undefined) throw new Error('inspector needs the suite to be given a url.');
    const { url, hosts } = parseBusUrl(this.options.url);
    const transport = await createTransport(url, { service: `inspector-${this.run}`, logger: this.options.logger ?? silentLogger, hosts });
    await transport.connect();
    this.transports.push(transport);
    return transport;
  }

  /** The real transport with some methods replaced (the rest called on it, with itself as `this`). */
  private async wrappedBus(service: string, replace: (inner: Transport) => Partial<Transport>): Promise<{ bus: Bus; inner: Transport }> {
    if (this.options.url === undefined) throw new Error('This case needs the suite to be given a url: it wraps the transport.');
    const logger = this.options.logger ?? silentLogger;
    const { url, hosts } = parseBusUrl(this.options.url);
    const inner = await createTransport(url, { service, logger, hosts });
    const replaced = replace(inner);
    const transport = new Proxy(inner, {
      get(target, property) {
        if (Object.hasOwn(replaced, property)) return replaced[property as keyof Transport];
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Transport;
    const bus = await createBus({ transport, service, logger });
    this.buses.push(bus);
    return { bus, inner };
  }

  /** An idempotency store for this case: options.createStore's, or a fresh memory store. */
  async store(): Promise<IdempotencyStore> {
    const store = this.options.createStore ? await this.options.createStore() : memoryIdempotencyStore();
    this.stores.push(store);
    return store;
  }

  /** A topic name no other test uses. */
  topic(label: string): string {
    return `cf.${label}.${this.run}.${randomUUID().slice(0, 6)}`;
  }

  group(label: string): string {
    return `g-${label}-${randomUUID().slice(0, 8)}`;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.buses.map((b) => b.close({ drainTimeoutMs: 2000 })));
    // Stores after buses: a closing bus may still complete or release a claim.
    await Promise.allSettled(this.stores.map((s) => s.close?.()));
    await Promise.allSettled(this.transports.map((t) => t.close()));
  }
}

/** Collects items and lets a test await "n have arrived" instead of sleeping. */
export class Collector<T> {
  readonly items: T[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (this.items.length >= w.n) w.resolve();
      return this.items.length < w.n;
    });
  };

  /** Resolve when at least n items arrived; reject after timeoutMs saying how many did. */
  waitFor(n: number, timeoutMs = 20_000, what = 'messages'): Promise<T[]> {
    if (this.items.length >= n) return Promise.resolve(this.items);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${n} ${what}; got ${this.items.length}.`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.items);
        },
      });
    });
  }
}

/** A promise with its resolve exposed: for "the handler started" style events. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Drain whatever a group holds right now via pull (bounded wait), acking everything. */
export async function drainByPull(bus: Bus, topic: string, group: string, waitMs = 300): Promise<number> {
  let count = 0;
  for (;;) {
    const batch = await bus.pull(topic, { group, max: 100, waitMs });
    if (batch.length === 0) return count;
    count += batch.length;
    for (const m of batch) await m.ack();
  }
}

/** Pull until exactly one message arrives (within timeoutMs); fails if a pull returns more. */
export async function pullOne(bus: Bus, topic: string, group: string, timeoutMs = 20_000): Promise<[PulledMessage]> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const batch = await bus.pull(topic, { group, max: 10, waitMs: Math.min(2000, Math.max(0, deadline - Date.now())) });
    if (batch.length > 1) throw new Error(`Expected one message from "${topic}", got ${batch.length}.`);
    if (batch.length === 1) return [batch[0]!];
  }
  throw new Error(`No message from "${topic}" within ${timeoutMs} ms.`);
}

/**
 * Clean-ups for tests: push a function while a test runs (close a bus, a client, a transport);
 * after each test they run one at a time, last pushed first (a bus closes before the store it
 * uses), and a failing one does not stop the others.
 */
export function cleanupAfterEach(): (() => unknown)[] {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse())
      await Promise.resolve()
        .then(cleanup)
        .catch(() => undefined);
  });
  return cleanups;
}
