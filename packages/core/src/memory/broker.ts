/**
 * An in-process broker with real broker semantics: a queue per (topic, group), competing
 * consumers, fan-out across groups, per-key ordering, ack/nack, delivery counts, delayed
 * delivery, pull, and redelivery of whatever a departing consumer left unsettled.
 * Deliveries are always dispatched on a later tick, never inside publish().
 */
import type { WireMessage } from '../spi.js';

export interface Entry {
  readonly wire: WireMessage;
  readonly seq: number;
  deliveryCount: number;
}

/** Whoever holds deliveries: a push consumer or a pulling transport. */
export interface Holder {
  readonly outstanding: Set<Lease>;
}

export interface Lease {
  readonly entry: Entry;
  readonly queue: GroupQueue;
  readonly holder: Holder;
  settled: boolean;
}

export interface PushConsumer extends Holder {
  prefetch: number;
  stopped: boolean;
  deliver(lease: Lease): void;
}

interface PullWaiter {
  readonly wake: () => void;
}

export class GroupQueue {
  private readonly ready: Entry[] = [];
  /** Keys with a message out (delivered, or waiting out a nack delay): later ones of that key wait. */
  private readonly busyKeys = new Map<string, number>();
  private readonly consumers: PushConsumer[] = [];
  private readonly pullWaiters = new Set<PullWaiter>();
  private nextConsumer = 0;
  private dispatchScheduled = false;

  constructor(
    readonly topic: string,
    readonly group: string,
  ) {}

  get depth(): number {
    return this.ready.length;
  }

  enqueue(entry: Entry): void {
    this.insertOrdered(entry);
    this.schedule();
  }

  addConsumer(consumer: PushConsumer): void {
    this.consumers.push(consumer);
    this.schedule();
  }

  removeConsumer(consumer: PushConsumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index >= 0) this.consumers.splice(index, 1);
  }

  ack(lease: Lease): void {
    if (!this.finish(lease)) return;
    this.schedule();
  }

  /** Back to the queue now, or after delayMs; the key stays busy meanwhile so order holds. */
  requeue(lease: Lease, delayMs: number): void {
    if (lease.settled) return;
    lease.settled = true;
    lease.holder.outstanding.delete(lease);
    if (delayMs <= 0) {
      this.releaseKey(lease.entry);
      this.insertOrdered(lease.entry);
      this.schedule();
      return;
    }
    const timer = setTimeout(() => {
      this.releaseKey(lease.entry);
      this.insertOrdered(lease.entry);
      this.schedule();
    }, delayMs);
    timer.unref();
  }

  /** Take up to `max` messages for a puller, as a consumer with no prefetch limit would. */
  take(holder: Holder, max: number): Lease[] {
    const leases: Lease[] = [];
    for (let i = 0; i < this.ready.length && leases.length < max; ) {
      const entry = this.ready[i]!;
      if (!this.isDispatchable(entry)) {
        i++;
        continue;
      }
      this.ready.splice(i, 1);
      leases.push(this.lease(entry, holder));
    }
    return leases;
  }

  waitForMessages(signal: AbortSignal | undefined, waitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter: PullWaiter = { wake: () => done() };
      const timer = setTimeout(() => done(), waitMs);
      const done = () => {
        clearTimeout(timer);
        this.pullWaiters.delete(waiter);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done);
      this.pullWaiters.add(waiter);
    });
  }

  private finish(lease: Lease): boolean {
    if (lease.settled) return false;
    lease.settled = true;
    lease.holder.outstanding.delete(lease);
    this.releaseKey(lease.entry);
    return true;
  }

  private lease(entry: Entry, holder: Holder): Lease {
    entry.deliveryCount += 1;
    const key = entry.wire.key;
    if (key !== undefined) this.busyKeys.set(key, (this.busyKeys.get(key) ?? 0) + 1);
    const lease: Lease = { entry, queue: this, holder, settled: false };
    holder.outstanding.add(lease);
    return lease;
  }

  private releaseKey(entry: Entry): void {
    const key = entry.wire.key;
    if (key === undefined) return;
    const count = (this.busyKeys.get(key) ?? 1) - 1;
    if (count <= 0) this.busyKeys.delete(key);
    else this.busyKeys.set(key, count);
  }

  private isDispatchable(entry: Entry): boolean {
    return entry.wire.key === undefined || !this.busyKeys.has(entry.wire.key);
  }

  /** Keep publish order (seq) so a redelivered message goes back ahead of later ones. */
  private insertOrdered(entry: Entry): void {
    let index = this.ready.length;
    while (index > 0 && this.ready[index - 1]!.seq > entry.seq) index--;
    this.ready.splice(index, 0, entry);
  }

  private schedule(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const waiter of [...this.pullWaiters]) if (this.ready.length > 0) waiter.wake();
    if (this.consumers.length === 0) return;
    for (let i = 0; i < this.ready.length; ) {
      const consumer = this.pickConsumer();
      if (consumer === undefined) return;
      const entry = this.ready[i]!;
      if (!this.isDispatchable(entry)) {
        i++;
        continue;
      }
      this.ready.splice(i, 1);
      consumer.deliver(this.lease(entry, consumer));
    }
  }

  /** Round-robin over consumers with spare prefetch, so competing consumers share the work. */
  private pickConsumer(): PushConsumer | undefined {
    for (let tries = 0; tries < this.consumers.length; tries++) {
      const consumer = this.consumers[this.nextConsumer % this.consumers.length]!;
      this.nextConsumer = (this.nextConsumer + 1) % this.consumers.length;
      if (!consumer.stopped && consumer.outstanding.size < consumer.prefetch) return consumer;
    }
    return undefined;
  }
}

export class MemoryBroker {
  private readonly topics = new Map<string, Map<string, GroupQueue>>();
  private seq = 0;

  queue(topic: string, group: string): GroupQueue {
    let groups = this.topics.get(topic);
    if (!groups) {
      groups = new Map();
      this.topics.set(topic, groups);
    }
    let queue = groups.get(group);
    if (!queue) {
      queue = new GroupQueue(topic, group);
      groups.set(group, queue);
    }
    return queue;
  }

  /** Every existing group of the topic gets its own copy; a topic with no group keeps nothing. */
  publish(topic: string, wire: WireMessage, delayMs: number): void {
    const groups = this.topics.get(topic);
    if (!groups || groups.size === 0) return;
    const seq = ++this.seq;
    const targets = [...groups.values()];
    const enqueue = () => {
      for (const queue of targets) queue.enqueue({ wire, seq, deliveryCount: 0 });
    };
    if (delayMs > 0) setTimeout(enqueue, delayMs).unref();
    else enqueue();
  }

  stats(): { topics: number; groups: number; depth: number } {
    let groups = 0;
    let depth = 0;
    for (const topicGroups of this.topics.values()) {
      groups += topicGroups.size;
      for (const queue of topicGroups.values()) depth += queue.depth;
    }
    return { topics: this.topics.size, groups, depth };
  }
}

const brokers = new Map<string, MemoryBroker>();

/** Buses in one process with the same memory://name share one broker. */
export function memoryBroker(name: string): MemoryBroker {
  let broker = brokers.get(name);
  if (!broker) {
    broker = new MemoryBroker();
    brokers.set(name, broker);
  }
  return broker;
}
