/**
 * One consumer of a group's subscription: a loop of unary pull requests, each asking for no more
 * messages than the consumer has room for (prefetch minus what it holds unsettled), so flow
 * control is exact on every server (the emulator ignores streaming pull's flow control).
 *
 * Per-key order: Pub/Sub hands out a key's messages in order and no more of that key until they
 * are acked, but one pull may carry several of them. Core runs what it is given concurrently, so a
 * key's next message is handed to core only once the previous one is acked; the followers wait
 * here (counted against prefetch, their leases renewed at a third of the ack deadline). When a
 * keyed message is handed back (a retry, a closing consumer), its followers go back too, so
 * Pub/Sub redelivers them after it, in order.
 *
 * Emulated delay: a message whose `ce-notbefore` is still ahead is held here, outside prefetch,
 * at most EMULATED_DELAY_HOLD_MS (core republishes what is still not due then), its lease renewed
 * before it is handed over.
 */
import type { Delivery } from '@switchyard/core';
import { Attr, EMULATED_DELAY_HOLD_MS, InternalHeader, errorMessage, retrying } from '@switchyard/core/spi';
import type { protos } from '@google-cloud/pubsub';
import { MAX_PULL_MESSAGES, type PubSubTransport } from './transport.js';

type ReceivedMessage = protos.google.pubsub.v1.IReceivedMessage;

/** Most not-yet-due messages one consumer holds; past it, pulling waits for them to come due. */
const MAX_HELD = 1000;

export class PullConsumer {
  private outstanding = 0;
  private readonly held = new Map<NodeJS.Timeout, ReceivedMessage>();
  /** Keys with a message at core → the messages of that key waiting behind it. */
  private readonly keys = new Map<string, ReceivedMessage[]>();
  private keeper: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private readonly returning = new Set<Promise<unknown>>();

  constructor(
    private readonly transport: PubSubTransport,
    private readonly topic: string,
    private readonly group: string,
    private readonly prefetch: number,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    const { transport, topic, group } = this;
    while (!this.stopped) {
      const room = Math.min(this.prefetch - this.outstanding, MAX_PULL_MESSAGES);
      if (room <= 0 || this.held.size >= MAX_HELD) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
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
        continue; // only when stopping
      }
      if (this.stopped) this.giveBack(received);
      else for (const message of transport.withoutAcked(topic, group, received)) this.dispatch(message);
    }
  }

  private dispatch(message: ReceivedMessage): void {
    const headers = message.message?.attributes ?? {};
    const forGroup = headers[InternalHeader.forGroup];
    const dueIn = Date.parse(headers[Attr.notBefore] ?? '') - Date.now();
    if ((forGroup === undefined || forGroup === this.group) && dueIn > 0) {
      const timer = setTimeout(
        () => {
          this.held.delete(timer);
          this.wake?.();
          if (this.stopped) return this.giveBack([message]);
          // Its lease ran while it was held: renew it before core starts its own lease keeping.
          this.renew([message]);
          this.handOver(message);
        },
        Math.min(dueIn, EMULATED_DELAY_HOLD_MS),
      );
      this.held.set(timer, message);
      return;
    }
    this.handOver(message);
  }

  private handOver(message: ReceivedMessage): void {
    this.outstanding++;
    const key = message.message?.orderingKey || undefined;
    if (key !== undefined) {
      const waiting = this.keys.get(key);
      if (waiting !== undefined) {
        waiting.push(message);
        this.keepWaitingLeases();
        return;
      }
      this.keys.set(key, []);
    }
    this.deliver(message, key);
  }

  private deliver(message: ReceivedMessage, key: string | undefined): void {
    this.onDelivery(this.transport.delivery(this.topic, this.group, message, (acked) => this.settled(key, acked)));
  }

  private settled(key: string | undefined, acked: boolean): void {
    this.outstanding--;
    const waiting = key === undefined ? undefined : this.keys.get(key);
    if (waiting !== undefined) {
      const next = acked && !this.stopped ? waiting.shift() : undefined;
      if (next !== undefined) {
        this.deliver(next, key);
      } else {
        this.keys.delete(key!);
        this.outstanding -= waiting.length;
        this.giveBack(waiting);
      }
    }
    this.wake?.();
  }

  /** While messages wait behind their key, renew their leases at a third of the ack deadline. */
  private keepWaitingLeases(): void {
    if (this.keeper !== undefined) return;
    this.keeper = setInterval(
      () => {
        const waiting = [...this.keys.values()].flat();
        if (waiting.length > 0) return this.renew(waiting);
        clearInterval(this.keeper);
        this.keeper = undefined;
      },
      (this.transport.settings.ackDeadlineSeconds * 1000) / 3,
    );
    this.keeper.unref();
  }

  private renew(messages: ReceivedMessage[]): void {
    const ackIds = messages.map((m) => m.ackId!);
    this.transport
      .modAck(this.topic, this.group, ackIds, this.transport.settings.ackDeadlineSeconds)
      .catch((err: unknown) => this.transport.logger.debug('Renewing leases failed; Pub/Sub may redeliver those messages', { error: errorMessage(err) }));
  }

  private giveBack(messages: ReceivedMessage[]): void {
    if (messages.length === 0) return;
    const pending = this.transport.modAck(
      this.topic,
      this.group,
      messages.map((m) => m.ackId!),
      0,
    );
    const tracked = pending.catch(() => undefined).finally(() => this.returning.delete(tracked));
    this.returning.add(tracked);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake?.();
    for (const timer of this.held.keys()) clearTimeout(timer);
    this.giveBack([...this.held.values()]);
    this.held.clear();
    for (const [key, waiting] of this.keys) {
      this.outstanding -= waiting.length;
      this.giveBack(waiting);
      this.keys.set(key, []);
    }
    clearInterval(this.keeper);
    this.keeper = undefined;
  }

  /** Stops, then waits for the pull in flight (at most pullWaitMs) and for what goes back to Pub/Sub. */
  async close(): Promise<void> {
    await this.stop();
    await this.loop;
    await Promise.all(this.returning);
  }
}
