/**
 * One Kafka consumer-group member for one (topic, group), handing deliveries to core.
 *
 * Offset model: offsets are committed manually (autoCommit off). Per partition we track the
 * offsets handed out and not yet settled; the committed offset is always the lowest unsettled
 * one (or the next to fetch when none is), so a commit never passes a message that is still in
 * flight, however acks arrive. Commits are coalesced: at most one commit request in flight.
 *
 * Concurrency: up to `prefetch` unsettled deliveries across all partitions. Within a partition a
 * message is handed out while earlier ones are in flight only if its key is not in flight
 * (keyless messages never wait for each other), so per-key order holds; a message whose key is
 * busy holds back its partition (head of line) until that key settles.
 *
 * Abandon: while the consumer runs, the partition is sought back to the abandoned offset, so the
 * message comes back (later offsets still in flight or settled are skipped on the re-read). At
 * close, abandoned and unsettled offsets are simply not committed: the group's next member
 * reads them again.
 */
import { ConnectionError, type Delivery, type Logger, type TransportConsumer, type WireMessage } from '@switchyard/core';
import { ChangeSignal, type DeliveryParts, delayHoldMs, errorMessage, KeyGate, outlasts, retrying, settleOnce } from '@switchyard/core/spi';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { KafkaSettings } from './options.js';
import { fromKafkaMessage } from './wire.js';

/** Held messages beyond this are handed to core at once (core then waits out their delay itself). */
const MAX_HELD = 10_000;

class PartitionState {
  /** Next offset not yet handed out (highest delivered + 1, or the first fetched). */
  next: number | undefined;
  readonly pending = new Set<number>();
  readonly abandoned = new Set<number>();
  /** Keys with a message in flight: later ones of the key wait (per-key order). */
  readonly keys = new KeyGate();
  /** Last offset this member committed. */
  committed = -1;
  revoked = false;

  constructor(readonly partition: number) {}

  /** Lowest offset not settled: everything below it may be committed. */
  low(): number | undefined {
    let low = this.next;
    for (const o of this.pending) if (low === undefined || o < low) low = o;
    for (const o of this.abandoned) if (low === undefined || o < low) low = o;
    return low;
  }

  /** Handed out or held: unsettled until settled. */
  take(offset: number): void {
    this.abandoned.delete(offset);
    this.pending.add(offset);
    if (this.next === undefined || offset >= this.next) this.next = offset + 1;
  }

  shouldDeliver(offset: number): boolean {
    return this.abandoned.has(offset) || this.next === undefined || offset >= this.next;
  }
}

/**
 * One handed-out record: what core settles. Methods on one object instead of a closure per
 * settlement per message; settleOnce guards that only the first settlement counts.
 */
class InFlight implements DeliveryParts {
  // Kafka keeps no delivery count (capabilities.deliveryCount 'absent'): core counts what this process
  // sees by brokerId, stable per record in every redelivery and group (also the id of a record without ce_id).
  readonly deliveryCount = 1;
  readonly brokerId: string;

  constructor(
    private readonly consumer: GroupConsumer,
    readonly state: PartitionState,
    readonly message: WireMessage,
    readonly offset: number,
  ) {
    this.brokerId = `${state.partition}:${offset}`;
  }

  ack(): void {
    this.consumer.settle(this, false);
  }

  /** Never called: capabilities.nack is 'none'. Treat as abandon should a caller try. */
  nack(): void {
    this.consumer.settle(this, true);
  }

  abandon(): void {
    this.consumer.settle(this, true);
  }
}

export interface GroupConsumerOptions {
  readonly kafka: Kafka;
  readonly settings: KafkaSettings;
  readonly logger: Logger;
  readonly topic: string;
  readonly group: string;
  readonly groupId: string;
  readonly prefetch: number;
  readonly onDelivery: (delivery: Delivery) => void;
  /** Records of the topic this consumer hands out; the rest are skipped as settled (replies for other buses). */
  readonly accept: ((message: KafkaMessage) => boolean) | undefined;
  /**
   * 0: commit as soon as something settled (one commit request in flight at a time). Above 0:
   * commit at most once per this many ms while running (and at close), for groups whose
   * offsets only matter while this consumer lives (see EPHEMERAL_COMMIT_DELAY_MS).
   */
  readonly commitDelayMs: number;
}

/**
 * Commit cadence of an ephemeral group (core's reply topics). Its offsets only matter should
 * kafkajs restart this member within the bus's life: it then re-reads at most this long's worth
 * of replies, which core drops (no request waits for them twice). The group is deleted on close.
 * Committing each reply instead costs a request per reply: a sixth of a request/reply's.
 */
export const EPHEMERAL_COMMIT_DELAY_MS = 1000;

export class GroupConsumer implements TransportConsumer {
  private consumer: Consumer | undefined;
  private readonly states = new Map<number, PartitionState>();
  /** Wakes loops waiting for a free slot or key. */
  private readonly changed = new ChangeSignal();
  private inFlight = 0;
  /** Messages held until their emulated-delay time (not counted in inFlight). */
  private held = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** Aborted once closed: retries give up. */
  private readonly lifetime = new AbortController();
  private closing: Promise<void> | undefined;
  private commitDirty = false;
  private committing: Promise<void> | undefined;
  /** Resolved when the next commit request to start has completed: what committedSoFar() waits for. */
  private nextCommit: { readonly promise: Promise<void>; readonly done: () => void } | undefined;
  /** A delayed commit (commitDelayMs) is due when this fires. */
  private commitTimer: NodeJS.Timeout | undefined;
  private generation = 0;
  /** True once the first join succeeded: later unrecoverable crashes restart the member. */
  private running = false;
  private readonly waitStep: number;
  /** When a waiting eachBatch loop last asked kafkajs to heartbeat. */
  private lastHeartbeat = 0;

  private get closed(): boolean {
    return this.lifetime.signal.aborted;
  }

  constructor(private readonly options: GroupConsumerOptions) {
    this.waitStep = Math.min(options.settings.heartbeatInterval, 1000);
  }

  /** Connect, join the group and resolve once partitions are assigned. */
  async start(): Promise<void> {
    try {
      await this.startConsumer();
    } catch (err) {
      this.lifetime.abort();
      await this.consumer?.disconnect().catch(() => undefined);
      throw new ConnectionError(`Kafka consumer for "${this.options.topic}" (group "${this.options.group}") could not join: ${errorMessage(err)}`, { cause: err });
    }
  }

  private async startConsumer(): Promise<void> {
    const { kafka, settings, topic, groupId, prefetch } = this.options;
    const generation = ++this.generation;
    const { sessionTimeout, rebalanceTimeout, heartbeatInterval, maxWaitTime: maxWaitTimeInMs } = settings;
    const retry = { initialRetryTime: 100, maxRetryTime: 2000, retries: 8, restartOnFailure: async () => !this.closed };
    const consumer = kafka.consumer({ groupId, sessionTimeout, rebalanceTimeout, heartbeatInterval, maxWaitTimeInMs, allowAutoTopicCreation: false, retry });
    this.consumer = consumer;
    const join = new Promise<void>((joined, failed) => {
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        if (generation !== this.generation) return;
        this.onAssignment(event.payload.memberAssignment[topic] ?? []);
        if (this.stopping) this.pause();
        joined();
      });
      consumer.on(consumer.events.CRASH, (event) => {
        if (generation !== this.generation || this.closed) return;
        const { error, restart } = event.payload;
        if (restart) {
          this.options.logger.warn('Kafka consumer crashed; kafkajs restarts it', { topic, group: this.options.group, error: errorMessage(error) });
          return;
        }
        failed(error);
        if (!this.running) return;
        this.options.logger.error('Kafka consumer crashed; restarting it', { topic, group: this.options.group, error: errorMessage(error) });
        void this.restart();
      });
    });
    join.catch(() => undefined); // a crash after this start already failed is only logged
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const partitionsConsumedConcurrently = Math.max(1, Math.min(prefetch, 32));
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently, eachBatch: (payload) => this.eachBatch(payload) });
    const timeoutMs = sessionTimeout + rebalanceTimeout + 30_000;
    if (await outlasts(join, timeoutMs)) throw new Error(`no group assignment within ${timeoutMs} ms`);
    this.running = true;
    if (this.stopping) this.pause();
  }

  /** A crash kafkajs does not recover from: build a fresh member, keeping the offset bookkeeping. */
  private async restart(): Promise<void> {
    const { topic, group, logger } = this.options;
    const attempt = async () => {
      await this.consumer?.disconnect().catch(() => undefined);
      await this.startConsumer();
    };
    const log = (err: unknown) => logger.warn('Restarting the Kafka consumer failed; trying again', { topic, group, error: errorMessage(err) });
    await retrying(attempt, { initialDelayMs: 500, maxDelayMs: 10_000, signal: this.lifetime.signal, onRetry: log }).catch(() => undefined); // closed meanwhile
  }

  private onAssignment(partitions: number[]): void {
    const assigned = new Set(partitions);
    for (const [partition, state] of this.states) {
      if (assigned.has(partition)) continue;
      // Revoked: another member reads it from the committed offset; our in-flight ones can no longer commit.
      state.revoked = true;
      this.states.delete(partition);
    }
    this.changed.notify();
  }

  private stateFor(partition: number): PartitionState {
    const state = this.states.get(partition) ?? new PartitionState(partition);
    this.states.set(partition, state);
    return state;
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const state = this.stateFor(batch.partition);
    // isStale() (a seek pending: our own rewind after an abandon) builds a key per call; only an
    // abandoned offset in this partition can have caused one.
    const halted = () => this.stopping || state.revoked || !isRunning() || (state.abandoned.size > 0 && isStale());
    // Resolved once, when the loop ends: kafkajs fetches the partition again after the last
    // resolved offset (autoCommit is off, so resolving commits nothing).
    let resolved: string | undefined;
    try {
      for (const message of batch.messages) {
        if (halted()) return;
        const offset = Number(message.offset);
        if (state.next === undefined) state.next = offset;
        if (!state.shouldDeliver(offset) || this.options.accept?.(message) === false) {
          state.next = Math.max(state.next, offset + 1);
          resolved = message.offset;
          continue;
        }
        const wire = fromKafkaMessage(message);
        const holdMs = this.held < MAX_HELD ? delayHoldMs(wire, this.options.group) : 0;
        if (holdMs > 0) {
          // Emulated delay: hold it here, taking no handler slot and no key until it is due, so the
          // messages behind it flow meanwhile. It stays uncommitted while held, at most core's short
          // hold: core then republishes what is still not due, so a long delay never pins the commit.
          this.hold(state, wire, offset, holdMs);
          resolved = message.offset;
          continue;
        }
        while (this.busy(state, wire.key)) {
          await this.changed.wait(this.waitStep);
          if (halted()) return;
          // Long handlers must not cost the membership: keep heartbeating while we wait (kafkajs
          // sends one per heartbeatInterval; asking more often only costs a call per wake-up).
          if (Date.now() - this.lastHeartbeat >= this.waitStep) {
            this.lastHeartbeat = Date.now();
            await heartbeat();
          }
        }
        this.deliver(state, wire, offset);
        resolved = message.offset;
      }
      // kafkajs fetches again once every batch of its last fetch has returned. Under steady load
      // that was one fetch per produce request: each brought back only what had arrived since,
      // and cost client and broker CPU (314 fetches per 20,000 messages where raw kafkajs, whose
      // eachBatch awaits its commit, made 155). So while offsets are being committed, wait until
      // what has settled so far is committed (the request on the wire, and at most the one after
      // it): the same messages then come in fuller batches. Never for a handler, and not at all
      // when no commit is running (an idle consumer).
      if (this.committing !== undefined && !halted()) await outlasts(this.committedSoFar(), this.waitStep);
    } finally {
      if (resolved !== undefined) resolveOffset(resolved);
    }
  }

  /** No free slot, or a message of this key is in flight in the partition. */
  private busy(state: PartitionState, key: string | undefined): boolean {
    return this.inFlight >= this.options.prefetch || state.keys.isBusy(key);
  }

  private hold(state: PartitionState, wire: WireMessage, offset: number, holdMs: number): void {
    state.take(offset);
    this.held++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.releaseHeld(state, wire, offset);
    }, holdMs);
    this.timers.add(timer);
  }

  /** A held message is due: hand it out when a slot and its key are free (it stays pending meanwhile). */
  private async releaseHeld(state: PartitionState, wire: WireMessage, offset: number): Promise<void> {
    while (this.busy(state, wire.key)) {
      if (this.stopping || state.revoked) break;
      await this.changed.wait(this.waitStep);
    }
    this.held--;
    // Stopped or revoked meanwhile: it was never committed, so the group reads it again.
    if (this.stopping || state.revoked) return;
    state.pending.delete(offset);
    this.deliver(state, wire, offset);
  }

  private deliver(state: PartitionState, message: WireMessage, offset: number): void {
    state.take(offset);
    state.keys.take(message.key);
    this.inFlight++;
    this.options.onDelivery(settleOnce(new InFlight(this, state, message, offset)));
  }

  /** Core settled a delivery (once: settleOnce): free its slot and key, and commit or re-read. */
  settle({ state, message, offset }: InFlight, abandoned: boolean): void {
    this.inFlight--;
    state.pending.delete(offset);
    state.keys.release(message.key);
    if (abandoned && !state.revoked) {
      state.abandoned.add(offset);
      this.rewind(state);
    }
    this.changed.notify();
    if (!state.revoked) this.scheduleCommit();
  }

  /** Read an abandoned message again: seek its partition back to the lowest abandoned offset. */
  private rewind(state: PartitionState): void {
    if (this.stopping || this.closed || this.consumer === undefined) return;
    let lowest: number | undefined;
    for (const o of state.abandoned) if (lowest === undefined || o < lowest) lowest = o;
    if (lowest === undefined) return;
    try {
      this.consumer.seek({ topic: this.options.topic, partition: state.partition, offset: String(lowest) });
    } catch (err) {
      // Not running right now (rejoining): the re-read from the committed offset brings it back anyway.
      this.options.logger.debug('Seek after abandon failed; the message comes back after the rejoin', { error: errorMessage(err) });
    }
  }

  private scheduleCommit(): void {
    this.commitDirty = true;
    if (this.committing !== undefined) return;
    if (this.commitTimer !== undefined) {
      if (!this.stopping) return;
      // Stopping: what waits for the delay is committed now.
      clearTimeout(this.commitTimer);
      this.commitTimer = undefined;
    }
    if (this.options.commitDelayMs > 0 && !this.stopping && !this.closed) {
      this.commitTimer = setTimeout(() => {
        this.commitTimer = undefined;
        this.startCommits();
      }, this.options.commitDelayMs);
      return;
    }
    this.startCommits();
  }

  private startCommits(): void {
    this.committing ??= this.commitLoop().finally(() => {
      this.committing = undefined;
      // Nothing settled since the last request started, or stopping: nothing more to wait for.
      this.nextCommit?.done();
      this.nextCommit = undefined;
      // Delayed commits: what settled while this one was in flight goes with the next, after the delay.
      if (this.commitDirty && this.options.commitDelayMs > 0 && !this.stopping && !this.closed) this.scheduleCommit();
    });
  }

  /** One commit request at a time; a failed one is tried again while running, and left to flushCommits once stopping. */
  private async commitLoop(): Promise<void> {
    while (this.commitDirty && !this.closed) {
      this.commitDirty = false;
      // This request carries everything settled until now: it covers whoever waits now.
      const covered = this.nextCommit;
      this.nextCommit = undefined;
      const { topic, group, logger } = this.options;
      const log = (err: unknown) => logger.debug('Committing offsets failed; will retry', { topic, group, error: errorMessage(err) });
      const options = { initialDelayMs: 250, maxDelayMs: 2000, signal: this.lifetime.signal, retryIf: () => !this.stopping, onRetry: log };
      try {
        await retrying(() => this.commitOnce(), options);
      } catch {
        // Given up: stopping (flushCommits takes over) or closed.
        this.commitDirty = true;
        if (this.stopping) return;
      } finally {
        covered?.done();
      }
      // Delayed commits: one per delay while running (startCommits schedules the next).
      if (this.options.commitDelayMs > 0 && !this.stopping) return;
    }
  }

  /** Resolves once what has settled by now is committed: by the next commit request to start, or when the commit loop ends. */
  private committedSoFar(): Promise<void> {
    if (this.nextCommit === undefined) {
      let done!: () => void;
      const promise = new Promise<void>((resolve) => {
        done = resolve;
      });
      this.nextCommit = { promise, done };
    }
    return this.nextCommit.promise;
  }

  /** Owned partitions whose lowest unsettled offset is above their last commit. */
  private uncommitted(): { state: PartitionState; low: number }[] {
    return [...this.states.values()].flatMap((state) => {
      const low = state.low();
      return state.revoked || low === undefined || low <= state.committed ? [] : [{ state, low }];
    });
  }

  /** Commit every owned partition's lowest unsettled offset (computed afresh on each try). */
  private async commitOnce(): Promise<void> {
    const due = this.uncommitted();
    if (due.length === 0 || this.consumer === undefined) return;
    await this.consumer.commitOffsets(due.map(({ state, low }) => ({ topic: this.options.topic, partition: state.partition, offset: String(low) })));
    for (const { state, low } of due) state.committed = Math.max(state.committed, low);
  }

  /** On close: commit what can be committed, trying again until done or timeoutMs has passed. */
  private async flushCommits(timeoutMs: number): Promise<void> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const endsAt = Date.now() + timeoutMs;
    const flush = async () => {
      if (this.uncommitted().length > 0) this.scheduleCommit();
      // outlasts, not a race with sleep: a sleep left running after the commit came back kept the
      // process alive for the rest of timeoutMs after close().
      if (this.committing !== undefined) await outlasts(this.committing, Math.max(0, endsAt - Date.now()));
      if (this.uncommitted().length > 0) throw new Error('offsets not committed yet');
    };
    // What stays uncommitted is read again by the group's next member.
    await retrying(flush, { initialDelayMs: 50, maxDelayMs: 1000, signal: deadline }).catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.changed.notify();
    this.pause();
  }

  /** Stop fetching, staying in the group. */
  private pause(): void {
    try {
      this.consumer?.pause([{ topic: this.options.topic }]);
    } catch {
      // Not running (crashed, restarting): nothing is fetched anyway.
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.stop();
    await this.flushCommits(10_000);
    this.lifetime.abort();
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.changed.notify();
    await this.consumer?.disconnect().catch((err: unknown) => {
      this.options.logger.warn('Disconnecting the Kafka consumer failed', { topic: this.options.topic, error: errorMessage(err) });
    });
  }
}
