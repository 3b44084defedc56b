/**
 * One consumer of a group's subscription: unary pull requests, each asking for no more messages
 * than the consumer has room for (prefetch minus what it holds unsettled and what the pulls still
 * in flight asked for), so flow control is exact on every server (the emulator ignores streaming
 * pull's flow control). A pull goes out whenever half the prefetch is free, also while another one
 * is in flight.
 *
 * Per-key order: Pub/Sub hands out a key's messages in order (the emulator no more of a key until
 * those are acked), but one pull may carry several of them. Core runs what it is given concurrently, so a
 * key's next message is handed to core only once the previous one is acked; the followers wait
 * here (counted against prefetch, their leases renewed at a third of the ack deadline). When a
 * keyed message is handed back (a retry, a closing consumer), its followers go back too, so
 * Pub/Sub redelivers them after it, in order.
 *
 * Emulated delay: a message whose `ce-notbefore` is still ahead is held here, outside prefetch,
 * at most EMULATED_DELAY_HOLD_MS (core republishes what is still not due then), its lease renewed
 * before it is handed over.
 */
import type { Delivery, WireMessage } from '@switchyard/core';
import { ChangeSignal, KeyGate, delayHoldMs, errorMessage, retrying } from '@switchyard/core/spi';
import type { protos } from '@google-cloud/pubsub';
import { MAX_PULL_MESSAGES, type PubSubTransport } from './transport.js';
import { fromPubSub } from './wire.js';

type ReceivedMessage = protos.google.pubsub.v1.IReceivedMessage;

/** A pulled message and its decoding (done once, on arrival). */
interface Pulled {
  readonly received: ReceivedMessage;
  readonly wire: WireMessage;
}

/** Most not-yet-due messages one consumer holds; past it, pulling waits for them to come due. */
const MAX_HELD = 1000;

export class PullConsumer {
  private outstanding = 0;
  /** Messages asked for by the pulls in flight. */
  private requested = 0;
  private readonly pulls = new Set<Promise<void>>();
  private readonly held = new Map<NodeJS.Timeout, Pulled>();
  /** Keys with a message at core, and the messages waiting behind them (in arrival order). */
  private readonly gate = new KeyGate();
  private waiting: Pulled[] = [];
  private keeper: NodeJS.Timeout | undefined;
  private readonly change = new ChangeSignal();
  private readonly stopping = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private readonly returning = new Set<Promise<unknown>>();
  /** Room (free prefetch) at which the next pull goes out. */
  private readonly refillAt: number;

  constructor(
    private readonly transport: PubSubTransport,
    private readonly topic: string,
    private readonly group: string,
    private readonly prefetch: number,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {
    this.refillAt = Math.ceil(prefetch / 2);
  }

  start(): void {
    this.loop = this.run();
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Room counts what pulls in flight asked for, so prefetch stays exact with several out.
      const free = this.prefetch - this.outstanding - this.requested;
      // Refilled in batches: while it holds (or has asked for) more than half its prefetch it
      // waits for more room, rather than pulling the one or two messages a handler just made room
      // for (each pull is a round trip and ~0.3 ms of client CPU; at concurrency 1 that was a pull
      // per message).
      if (free < this.refillAt || this.held.size >= MAX_HELD) {
        await this.change.wait(60_000, this.stopping.signal);
        continue;
      }
      // Not awaited: the next pull goes out as soon as there is room again, while this one is in
      // flight. One at a time, a consumer took at most `room` messages per round trip and its
      // handlers sat idle for most of each (npm run bench: Pub/Sub publish → handler c16).
      const room = Math.min(free, MAX_PULL_MESSAGES);
      this.requested += room;
      const pull = this.pullInto(room).finally(() => {
        this.requested -= room;
        this.pulls.delete(pull);
        this.change.notify();
      });
      this.pulls.add(pull);
    }
    await Promise.all(this.pulls);
  }

  /** One pull of at most `room` messages, handed over as they arrive (back to Pub/Sub once stopping). */
  private async pullInto(room: number): Promise<void> {
    const { transport, topic, group } = this;
    let received: ReceivedMessage[];
    try {
      // Until it works again or this consumer stops (a restarting emulator, a lost network).
      received = await retrying(() => transport.pullOnce(topic, group, room, transport.settings.pullWaitMs), {
        initialDelayMs: 100,
        maxDelayMs: 5_000,
        signal: this.stopping.signal,
        onRetry: (err, attempt) => {
          if (attempt === 1 || attempt % 10 === 0) transport.logger.warn('Pulling from Pub/Sub failed; retrying', { topic, group, attempt, error: errorMessage(err) });
        },
      });
    } catch {
      return; // only when stopping
    }
    if (this.stopped) this.giveBack(received.map((r) => ({ received: r, wire: fromPubSub(r.message ?? {}) })));
    else for (const r of transport.withoutAcked(topic, group, received)) this.dispatch({ received: r, wire: fromPubSub(r.message ?? {}) });
  }

  private dispatch(message: Pulled): void {
    const holdMs = delayHoldMs(message.wire, this.group);
    if (holdMs > 0) {
      const timer = setTimeout(() => {
        this.held.delete(timer);
        this.change.notify();
        if (this.stopped) return this.giveBack([message]);
        // Its lease ran while it was held: renew it before core starts its own lease keeping.
        this.renew([message]);
        this.handOver(message);
      }, holdMs);
      this.held.set(timer, message);
      return;
    }
    this.handOver(message);
  }

  private handOver(message: Pulled): void {
    this.outstanding++;
    const key = message.wire.key;
    if (this.gate.isBusy(key)) {
      this.waiting.push(message);
      this.keepWaitingLeases();
      return;
    }
    this.deliver(message, key);
  }

  private deliver(message: Pulled, key: string | undefined): void {
    this.gate.take(key);
    this.onDelivery(this.transport.delivery(this.topic, this.group, message.received, (acked) => this.settled(key, acked), message.wire));
  }

  private settled(key: string | undefined, acked: boolean): void {
    this.outstanding--;
    this.gate.release(key);
    if (key !== undefined && this.waiting.some((m) => m.wire.key === key)) {
      if (acked && !this.stopped) {
        const next = this.waiting.find((m) => m.wire.key === key)!;
        this.waiting = this.waiting.filter((m) => m !== next);
        this.deliver(next, key);
      } else {
        const behind = this.waiting.filter((m) => m.wire.key === key);
        this.waiting = this.waiting.filter((m) => m.wire.key !== key);
        this.outstanding -= behind.length;
        this.giveBack(behind);
      }
    }
    this.change.notify();
  }

  /** While messages wait behind their key, renew their leases at a third of the ack deadline. */
  private keepWaitingLeases(): void {
    if (this.keeper !== undefined) return;
    this.keeper = setInterval(
      () => {
        if (this.waiting.length > 0) return this.renew(this.waiting);
        clearInterval(this.keeper);
        this.keeper = undefined;
      },
      (this.transport.settings.ackDeadlineSeconds * 1000) / 3,
    );
    this.keeper.unref();
  }

  private renew(messages: Pulled[]): void {
    const ackIds = messages.map((m) => m.received.ackId!);
    this.transport
      .modAck(this.topic, this.group, ackIds, this.transport.settings.ackDeadlineSeconds)
      .catch((err: unknown) => this.transport.logger.debug('Renewing leases failed; Pub/Sub may redeliver those messages', { error: errorMessage(err) }));
  }

  private giveBack(messages: Pulled[]): void {
    if (messages.length === 0) return;
    const pending = this.transport.modAck(
      this.topic,
      this.group,
      messages.map((m) => m.received.ackId!),
      0,
    );
    const tracked = pending.catch(() => undefined).finally(() => this.returning.delete(tracked));
    this.returning.add(tracked);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const timer of this.held.keys()) clearTimeout(timer);
    this.giveBack([...this.held.values()]);
    this.held.clear();
    this.outstanding -= this.waiting.length;
    this.giveBack(this.waiting);
    this.waiting = [];
    clearInterval(this.keeper);
    this.keeper = undefined;
  }

  /** Stops, then waits for the pulls in flight (at most pullWaitMs) and for what goes back to Pub/Sub. */
  async close(): Promise<void> {
    await this.stop();
    await this.loop;
    await Promise.all(this.returning);
  }
}
