/**
 * Pull over push, for transports whose broker has no native pull (Transport.pull absent, e.g.
 * Kafka): one buffering consumer per (topic, group), started on the first pull; pull() hands out
 * what it buffered.
 */
import type { Delivery, GroupPolicy, Transport, TransportConsumer } from './spi.js';

/** Deliveries a pull consumer buffers ahead of the app's pulls. */
const PULL_BUFFER = 256;

class Source {
  consumer: TransportConsumer | undefined;
  private readonly buffer: Delivery[] = [];
  private waiters: (() => void)[] = [];

  readonly push = (delivery: Delivery): void => {
    this.buffer.push(delivery);
    this.wakeAll();
  };

  async take(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]> {
    if (this.buffer.length === 0 && waitMs > 0 && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.waiters = this.waiters.filter((w) => w !== done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        signal?.addEventListener('abort', done, { once: true });
        this.waiters.push(done);
      });
    }
    return this.buffer.splice(0, max);
  }

  async close(): Promise<void> {
    await this.consumer?.stop();
    // Buffered deliveries were never handed out: back to the broker for the group's next reader.
    await Promise.allSettled(this.buffer.splice(0).map((d) => d.abandon()));
    this.wakeAll();
    await this.consumer?.close();
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export class PullBridge {
  private readonly sources = new Map<string, Promise<Source>>();

  constructor(private readonly transport: Transport) {}

  async pull(topic: string, group: string, options: { max: number; waitMs: number; signal?: AbortSignal }, policy: GroupPolicy): Promise<Delivery[]> {
    const key = `${topic}\0${group}`;
    let source = this.sources.get(key);
    if (source === undefined) {
      source = (async () => {
        const created = new Source();
        created.consumer = await this.transport.consume(topic, group, { prefetch: PULL_BUFFER, policy }, created.push);
        return created;
      })();
      this.sources.set(key, source);
      source.catch(() => this.sources.delete(key));
    }
    return (await source).take(options.max, options.waitMs, options.signal);
  }

  async close(): Promise<void> {
    const sources = await Promise.all([...this.sources.values()].map((s) => s.catch(() => undefined)));
    this.sources.clear();
    await Promise.allSettled(sources.map((s) => s?.close()));
  }
}
