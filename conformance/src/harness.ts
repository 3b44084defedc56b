import { randomUUID } from 'node:crypto';
import {
  createBus,
  memoryIdempotencyStore,
  silentLogger,
  type Bus,
  type Capabilities,
  type IdempotencyStore,
  type Logger,
  type PublishRequest,
  type Transport,
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
    if (this.options.url === undefined) throw new Error('faultyBus needs the suite to be given a url.');
    const logger = this.options.logger ?? silentLogger;
    const { url, hosts } = parseBusUrl(this.options.url);
    const inner = await createTransport(url, { service, logger, hosts });
    const next = (request: PublishRequest) => inner.publish(request);
    // Everything else goes to the real transport, with itself as `this`.
    const transport = new Proxy(inner, {
      get(target, property) {
        if (property === 'publish') return (request: PublishRequest) => publish(request, next);
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Transport;
    const bus = await createBus({ transport, service, logger });
    this.buses.push(bus);
    return bus;
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
