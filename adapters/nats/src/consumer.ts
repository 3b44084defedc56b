/**
 * One subscription's JetStream pull loop. It asks the durable consumer for exactly as many
 * messages as core's prefetch leaves room for (prefetch minus the deliveries core still holds),
 * so at most `prefetch` deliveries are unsettled here, whatever max_ack_pending allows; a message
 * nak'd with a delay is settled for core and no longer counts (it still holds its max_ack_pending
 * slot on the server until it comes back). A message not due yet (core's emulated delay) is held
 * here first, outside that count, so the messages behind it flow meanwhile.
 */
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Delivery, TransportConsumer } from '@switchyard/core';
import type { WireMessage } from '@switchyard/core';
import { ChangeSignal, delayHoldMs, errorMessage, retrying, settleOnce } from '@switchyard/core/spi';
import type { NatsTransport } from './transport.js';
import { fromNats } from './wire.js';

/** How long one pull request waits on the server for messages before the loop asks again. */
const FETCH_EXPIRES_MS = 5_000;
/** How long an ack waits for the server's confirmation. */
const ACK_TIMEOUT_MS = 5_000;

export interface GroupTarget {
  readonly topic: string;
  readonly group: string;
  readonly stream: string;
  readonly consumer: string;
}

export class GroupConsumer implements TransportConsumer {
  private unsettled = 0;
  private readonly held = new Set<JsMsg>();
  /** Not due yet: the timers that keep its lease and hand it over. */
  private readonly delayed = new Map<JsMsg, NodeJS.Timeout[]>();
  private readonly room = new ChangeSignal();
  private readonly stopping = new AbortController();
  private fetching: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private consumer: Consumer | undefined;
  private redeclare = false;
  private closed = false;

  constructor(
    private readonly transport: NatsTransport,
    private readonly target: GroupTarget,
    private readonly prefetch: number,
    private readonly ensure: (signal: AbortSignal) => Promise<unknown>,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      if (this.unsettled >= this.prefetch) {
        await this.room.wait(FETCH_EXPIRES_MS, signal);
        continue;
      }
      await retrying(() => this.fetchBatch(), {
        initialDelayMs: 100,
        maxDelayMs: 5_000,
        signal,
        onRetry: (err, attempt) => {
          // The consumer may be gone (deleted, stream lost): look it up (and declare it) afresh.
          this.consumer = undefined;
          this.redeclare = true;
          const log = attempt === 1 || attempt % 20 === 0 ? this.transport.logger.warn : this.transport.logger.debug;
          log.call(this.transport.logger, 'Fetching from JetStream failed; retrying', { ...this.describe(), attempt, error: this.transport.scrub(errorMessage(err)) });
        },
      }).catch(() => undefined); // only when stopping
    }
  }

  private async fetchBatch(): Promise<void> {
    if (this.redeclare) {
      await this.ensure(this.stopping.signal);
      this.redeclare = false;
    }
    if (this.consumer === undefined) {
      this.consumer = await this.transport.js.consumers.get(this.target.stream, this.target.consumer);
    }
    // Retried after a failed batch, the room may be gone: the loop waits for it instead (and
    // max_messages 0 would mean nats.js's default of 100).
    const room = this.prefetch - this.unsettled;
    if (room <= 0) return;
    const batch = await this.consumer.fetch({ max_messages: room, expires: FETCH_EXPIRES_MS });
    this.fetching = batch;
    if (this.stopping.signal.aborted) batch.stop();
    try {
      for await (const msg of batch) this.take(msg);
    } finally {
      this.fetching = undefined;
    }
  }

  private take(msg: JsMsg): void {
    if (this.closed) {
      this.settle(() => msg.nak());
      return;
    }
    const message = fromNats(msg.data, msg.headers);
    const holdMs = delayHoldMs(message, this.target.group);
    if (holdMs === 0) {
      this.deliver(msg, message);
      return;
    }
    // Its lease is kept meanwhile; after at most EMULATED_DELAY_HOLD_MS core has it (and
    // republishes it for this group when it is still not due).
    const leaseMs = this.transport.settings.options.ackWaitMs;
    const keep = setInterval(() => this.settle(() => msg.working()), Math.max(100, Math.floor(leaseMs / 3)));
    const due = setTimeout(() => {
      clearInterval(keep);
      if (this.delayed.delete(msg)) this.deliver(msg, message);
    }, holdMs);
    this.delayed.set(msg, [keep, due]);
  }

  private deliver(msg: JsMsg, message: WireMessage): void {
    this.unsettled++;
    this.held.add(msg);
    let touched = Date.now();
    const leaseMs = this.transport.settings.options.ackWaitMs;
    const release = (action: () => void) => {
      if (this.held.delete(msg)) {
        this.unsettled--;
        this.room.notify();
      }
      this.settle(action);
    };
    this.onDelivery(
      settleOnce({
        message,
        deliveryCount: msg.info.deliveryCount,
        brokerId: String(msg.seq),
        // Acks are confirmed by the server (ackAck), so once core has settled everything, the
        // group's state on the server says so too (no ack pending behind a closed consumer).
        ack: async () => {
          release(() => undefined);
          await msg.ackAck({ timeout: ACK_TIMEOUT_MS }).catch((err: unknown) => {
            this.transport.logger.debug('An ack was not confirmed; JetStream redelivers the message after AckWait', { ...this.describe(), error: errorMessage(err) });
          });
        },
        nack: ({ delayMs }) => release(() => msg.nak(delayMs > 0 ? delayMs : undefined)),
        abandon: () => release(() => msg.nak()),
        // working() resets AckWait; the server does not answer it, so a lease that already ran
        // out (and may have been redelivered) is told by the clock.
        extend: async () => {
          if (!this.held.has(msg) || Date.now() - touched >= leaseMs) return false;
          this.settle(() => msg.working());
          touched = Date.now();
          return true;
        },
      }),
    );
  }

  /** Acks are fire-and-forget publishes: on a closed connection they are moot (JetStream redelivers after AckWait). */
  private settle(action: () => void): void {
    try {
      action();
    } catch (err) {
      this.transport.logger.debug('Settling on a closed NATS connection; JetStream redelivers after AckWait', { error: errorMessage(err) });
    }
  }

  private describe(): Record<string, string> {
    return { topic: this.target.topic, group: this.target.group };
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.fetching?.stop();
    await this.loop;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
    // Whatever core or the delay hold still has goes back now, instead of after AckWait.
    for (const [msg, timers] of this.delayed) {
      for (const timer of timers) clearTimeout(timer);
      this.settle(() => msg.nak());
    }
    this.delayed.clear();
    for (const msg of [...this.held]) {
      this.held.delete(msg);
      this.settle(() => msg.nak());
    }
    this.unsettled = 0;
    this.transport.consumers.delete(this);
  }
}
