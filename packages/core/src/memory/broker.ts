/**
 * An in-process broker with real broker semantics: a queue per (topic, group), competing
 * consumers, fan-out across groups, per-key ordering, ack/nack, delivery counts, delayed
 * delivery, pull, and redelivery of whatever a departing consumer left unsettled.
 * Deliveries are always dispatched on a later tick, never inside publish().
 */
import { ConnectionError } from '../errors.js';
import { ChangeSignal } from '../kit/change-signal.js';
import { KeyGate } from '../kit/key-gate.js';
import type { GroupPolicy, WireMessage } from '../spi.js';
import { FaultPlan } from './faults.js';

export interface Entry {
  readonly wire: WireMessage;
  readonly seq: number;
  deliveryCount: number;
}

/** Whoever holds deliveries: a push consumer or a pulling transport. */
export interface Holder {
  readonly outstanding: Set<Lease>;
  /**
   * Ack deadline (ms) of this holder's deliveries, as SQS visibility timeouts, Pub/Sub ack
   * deadlines and JetStream AckWait work: a delivery not settled or extended in time goes back
   * to the queue and a later ack of it does nothing. Undefined: held until settled.
   */
  readonly leaseMs?: number;
}

export interface Lease {
  readonly entry: Entry;
  readonly queue: GroupQueue;
  readonly holder: Holder;
  settled: boolean;
  /** Pending lease expiry (only with holder.leaseMs). */
  expiry?: NodeJS.Timeout;
}

export interface PushConsumer extends Holder {
  prefetch: number;
  stopped: boolean;
  deliver(lease: Lease): void;
}

/**
 * Messages ready for delivery, in publish order. Taking from the middle (when an earlier key is
 * busy) leaves a hole that is skipped and compacted later, so the common case — take the head —
 * is O(1) instead of an array shift per message.
 */
class ReadyQueue {
  private items: (Entry | undefined)[] = [];
  private head = 0;
  private live = 0;

  get size(): number {
    return this.live;
  }

  insert(entry: Entry): void {
    this.live++;
    const last = this.items[this.items.length - 1];
    if (last === undefined || last.seq <= entry.seq) {
      this.items.push(entry);
      return;
    }
    // A redelivery goes back among the messages published after it (rare): ordered insert.
    this.compact(true);
    let index = this.items.length;
    while (index > 0 && this.items[index - 1]!.seq > entry.seq) index--;
    this.items.splice(index, 0, entry);
  }

  /** Visit live entries in order; `take` returns true to remove the visited entry, 'stop' to end. */
  scan(visit: (entry: Entry) => 'take' | 'skip' | 'stop'): void {
    for (let i = this.head; i < this.items.length; i++) {
      const entry = this.items[i];
      if (entry === undefined) continue;
      const verdict = visit(entry);
      if (verdict === 'stop') break;
      if (verdict === 'take') {
        this.items[i] = undefined;
        this.live--;
      }
    }
    while (this.head < this.items.length && this.items[this.head] === undefined) this.head++;
    this.compact(false);
  }

  private compact(force: boolean): void {
    if (!force && (this.head < 1024 || this.head * 2 < this.items.length)) return;
    this.items = this.items.filter((e) => e !== undefined);
    this.head = 0;
  }
}

export class GroupQueue {
  private readonly ready = new ReadyQueue();
  /** Keys with a message out (delivered, or waiting out a nack delay): later ones of that key wait. */
  private readonly busyKeys = new KeyGate();
  private readonly consumers: PushConsumer[] = [];
  /** Pulls waiting for messages. */
  private readonly pullWaiters = new ChangeSignal();
  private nextConsumer = 0;
  private dispatchScheduled = false;
  /** The policy its consumers declared (see the transport's adoptPolicy). */
  policy: GroupPolicy | undefined;
  /** Stops the broker's wake-up calls: as long as they come, the broker's fault plan holds this queue and every message in it. */
  private readonly stopWakeUps: () => void;

  constructor(
    readonly topic: string,
    readonly group: string,
    private readonly faults: FaultPlan,
  ) {
    this.stopWakeUps = faults.onUp(() => this.schedule());
  }

  /** The group was deleted: the broker lets go of it (and of what it held). */
  dispose(): void {
    this.stopWakeUps();
  }

  get depth(): number {
    return this.ready.size;
  }

  get hasConsumers(): boolean {
    return this.consumers.length > 0;
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
    if (!lease.settled && this.faults.loseThisAck(this.topic)) {
      this.requeue(lease, 0); // as if the consumer died before the ack reached the broker
      return;
    }
    if (!this.finish(lease)) return;
    this.schedule();
  }

  /** Back to the queue now, or after delayMs; the key stays busy meanwhile so order holds. */
  /** Push the lease's expiry `ms` from now; false if it already ended (settled or expired). */
  extend(lease: Lease, ms: number): boolean {
    if (lease.settled || lease.expiry === undefined) return false;
    clearTimeout(lease.expiry);
    lease.expiry = this.expireAfter(lease, ms);
    return true;
  }

  requeue(lease: Lease, delayMs: number): void {
    if (lease.settled) return;
    lease.settled = true;
    clearTimeout(lease.expiry);
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
    if (this.faults.isDown) return leases;
    this.ready.scan((entry) => {
      if (leases.length >= max) return 'stop';
      if (!this.isDispatchable(entry)) return 'skip';
      leases.push(this.lease(entry, holder));
      return 'take';
    });
    return leases;
  }

  waitForMessages(signal: AbortSignal | undefined, waitMs: number): Promise<void> {
    return this.pullWaiters.wait(waitMs, signal);
  }

  private finish(lease: Lease): boolean {
    if (lease.settled) return false;
    lease.settled = true;
    clearTimeout(lease.expiry);
    lease.holder.outstanding.delete(lease);
    this.releaseKey(lease.entry);
    return true;
  }

  private lease(entry: Entry, holder: Holder): Lease {
    entry.deliveryCount += 1;
    this.busyKeys.take(entry.wire.key);
    const lease: Lease = { entry, queue: this, holder, settled: false };
    if (holder.leaseMs !== undefined) lease.expiry = this.expireAfter(lease, holder.leaseMs);
    holder.outstanding.add(lease);
    return lease;
  }

  /** The lease ran out: the message goes back to the group for redelivery, as a broker's would. */
  private expireAfter(lease: Lease, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.requeue(lease, 0), ms);
    timer.unref();
    return timer;
  }

  private releaseKey(entry: Entry): void {
    this.busyKeys.release(entry.wire.key);
  }

  private isDispatchable(entry: Entry): boolean {
    return !this.busyKeys.isBusy(entry.wire.key);
  }

  /** Keep publish order (seq) so a redelivered message goes back ahead of later ones. */
  private insertOrdered(entry: Entry): void {
    this.ready.insert(entry);
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
    if (this.faults.isDown) return; // resumes when the fault plan says the broker is back
    if (this.ready.size > 0) this.pullWaiters.notify();
    if (this.consumers.length === 0) return;
    const handed: [PushConsumer, Lease][] = [];
    this.ready.scan((entry) => {
      if (!this.isDispatchable(entry)) return 'skip';
      const consumer = this.pickConsumer();
      if (consumer === undefined) return 'stop';
      handed.push([consumer, this.lease(entry, consumer)]);
      return 'take';
    });
    // Hand over after the scan so a consumer reacting synchronously cannot re-enter it.
    for (const [consumer, lease] of handed) consumer.deliver(lease);
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
  readonly faults = new FaultPlan();

  queue(topic: string, group: string): GroupQueue {
    let groups = this.topics.get(topic);
    if (!groups) {
      groups = new Map();
      this.topics.set(topic, groups);
    }
    let queue = groups.get(group);
    if (!queue) {
      queue = new GroupQueue(topic, group, this.faults);
      groups.set(group, queue);
    }
    return queue;
  }

  /** Drop the group's queue (and what it holds); the topic goes too once it has no groups, as it keeps nothing then. */
  deleteGroup(topic: string, group: string): void {
    const groups = this.topics.get(topic);
    if (!groups) return;
    groups.get(group)?.dispose();
    groups.delete(group);
    if (groups.size === 0) this.topics.delete(topic);
  }

  /** Every existing group of the topic gets its own copy; a topic with no group keeps nothing. */
  publish(topic: string, wire: WireMessage, delayMs: number): void {
    if (this.faults.isDown) throw new ConnectionError('The memory broker is down (injected fault); the message was not stored. Retry the publish.');
    const groups = this.topics.get(topic);
    if (!groups || groups.size === 0) return;
    const targets = [...groups.values()];
    const copies = this.faults.copiesFor(topic);
    for (let copy = 0; copy < copies; copy++) {
      const seq = ++this.seq;
      const enqueue = () => {
        for (const queue of targets) queue.enqueue({ wire, seq, deliveryCount: 0 });
      };
      const wait = delayMs + this.faults.extraDelay(topic);
      if (wait > 0) setTimeout(enqueue, wait).unref();
      else enqueue();
    }
  }

  /** Whether the group (or without one, the topic with any group) exists. */
  exists(topic: string, group?: string): boolean {
    const groups = this.topics.get(topic);
    return group === undefined ? groups !== undefined : (groups?.has(group) ?? false);
  }

  /** Whether a publish to `topic` now would be kept for anyone (some group exists). */
  hasGroups(topic: string): boolean {
    return (this.topics.get(topic)?.size ?? 0) > 0;
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
