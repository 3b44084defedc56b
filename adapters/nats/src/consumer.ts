/**
 * One subscription's JetStream pull loop. It asks the durable consumer for exactly as many
 * messages as core's prefetch leaves room for (prefetch minus the deliveries core still holds
 * minus what pull requests already asked for), so at most `prefetch` deliveries are unsettled
 * here, whatever max_ack_pending allows; a message nak'd with a delay is settled for core and no
 * longer counts (it still holds its max_ack_pending slot on the server until it comes back). A
 * message not due yet (core's emulated delay) is held here first, outside that count, so the
 * messages behind it flow meanwhile.
 *
 * Pull requests go out as room frees up, a quarter of the prefetch at a time, on one inbox
 * (PullSession), so the next messages are already on their way while core works on the last
 * ones. A delivery keeps only its ack subject: acks, naks and working() are publishes to it.
 */
import type { Msg } from '@nats-io/transport-node';
import type { Delivery, TransportConsumer } from '@switchyard/core';
import type { WireMessage } from '@switchyard/core';
import { type DeliveryParts, delayHoldMs, errorMessage, retrying, settleOnce } from '@switchyard/core/spi';
import { PULL_EXPIRES_MS, PullSession } from './pull-session.js';
import type { NatsTransport } from './transport.js';
import { fromNatsMsg } from './wire.js';

/** How long an ack waits for the server's confirmation. */
const ACK_TIMEOUT_MS = 5_000;
/** The JetStream API's pull subject, as nats.js's default client addresses it. */
const API_PREFIX = '$JS.API';
/** Acknowledgement payloads (ADR-13). */
const ACK = Uint8Array.of(43, 65, 67, 75); // +ACK
const NAK = Uint8Array.of(45, 78, 65, 75); // -NAK
const WORKING = Uint8Array.of(43, 87, 80, 73); // +WPI

export interface GroupTarget {
  readonly topic: string;
  readonly group: string;
  readonly stream: string;
  readonly consumer: string;
}

/**
 * One message as this consumer holds it, and the parts core's Delivery is built from: no nats.js
 * message object (only where it is acked), and methods instead of closures per message.
 */
class Held implements DeliveryParts {
  /** When its lease was last renewed (delivered, or working()). */
  touched = Date.now();

  constructor(
    private readonly owner: GroupConsumer,
    readonly ackSubject: string,
    readonly message: WireMessage,
    readonly deliveryCount: number,
    readonly brokerId: string,
  ) {}

  // Acks are confirmed by the server (a request to the ack subject, as nats.js's ackAck), so once
  // core has settled everything, the group's state on the server says so too (no ack pending
  // behind a closed consumer).
  ack(): Promise<void> {
    this.owner.release(this, undefined);
    return this.owner.confirmAck(this);
  }

  nack({ delayMs }: { delayMs: number }): void {
    this.owner.release(this, delayMs > 0 ? nakWithDelay(delayMs) : NAK);
  }

  abandon(): void {
    this.owner.release(this, NAK);
  }

  // settleOnce calls extend unbound.
  readonly extend = async (): Promise<boolean> => this.owner.extendLease(this);
}

export class GroupConsumer implements TransportConsumer {
  private unsettled = 0;
  private readonly held = new Set<Held>();
  /** Not due yet: the timers that keep its lease and hand it over. */
  private readonly delayed = new Map<Held, NodeJS.Timeout[]>();
  private readonly stopping = new AbortController();
  private session: PullSession | undefined;
  /** Settles when the current session ends: resolves to open a new one at once, rejects to retry after a pause. */
  private sessionEnded: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private redeclare = false;
  private closed = false;
  /** Ask again once this much room is free (or nothing is asked for). */
  private readonly refill: number;

  constructor(
    private readonly transport: NatsTransport,
    private readonly target: GroupTarget,
    private readonly prefetch: number,
    private readonly ensure: (signal: AbortSignal) => Promise<unknown>,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {
    this.refill = Math.max(1, Math.floor(prefetch / 4));
  }

  start(): void {
    this.loop = this.run();
    // A request the server lost (a reconnect, a restart) would hold its room for ever: start over.
    this.watchdog = setInterval(() => {
      if (this.session?.stalled()) this.renew();
    }, PULL_EXPIRES_MS);
    this.watchdog.unref();
  }

  /** Give up the current session (its inbox) and open a new one: after a reconnect, or a stall. */
  renew(): void {
    this.sessionEnded?.resolve();
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      await retrying(() => this.runSession(), {
        initialDelayMs: 100,
        maxDelayMs: 5_000,
        signal,
        onRetry: (err, attempt) => {
          // The consumer may be gone (deleted, stream lost): declare it afresh.
          this.redeclare = true;
          const log = attempt === 1 || attempt % 20 === 0 ? this.transport.logger.warn : this.transport.logger.debug;
          log.call(this.transport.logger, 'Fetching from JetStream failed; retrying', { ...this.describe(), attempt, error: this.transport.scrub(errorMessage(err)) });
        },
      }).catch(() => undefined); // only when stopping
    }
  }

  /** One session, from declaring (when needed) to its end; rejects when it failed. */
  private async runSession(): Promise<void> {
    if (this.redeclare) {
      await this.ensure(this.stopping.signal);
      this.redeclare = false;
    }
    if (this.stopping.signal.aborted) return;
    const ended = new Promise<void>((resolve, reject) => {
      this.sessionEnded = { resolve, reject };
    });
    const onAbort = () => this.sessionEnded?.resolve();
    this.stopping.signal.addEventListener('abort', onAbort, { once: true });
    const session = new PullSession(this.transport.nc, `${API_PREFIX}.CONSUMER.MSG.NEXT.${this.target.stream}.${this.target.consumer}`, {
      message: (msg) => {
        this.take(msg);
        this.fill();
      },
      returned: () => this.fill(),
      ended: (error) => this.sessionEnded?.reject(error),
    });
    this.session = session;
    try {
      this.fill();
      await ended;
    } finally {
      this.stopping.signal.removeEventListener('abort', onAbort);
      session.close();
      if (this.session === session) this.session = undefined;
      this.sessionEnded = undefined;
    }
  }

  /** Ask for the room there is, once enough of it is free (or nothing is asked for yet). */
  private fill(): void {
    const session = this.session;
    if (session === undefined || this.stopping.signal.aborted) return;
    const room = this.prefetch - this.unsettled - session.outstanding;
    if (room >= this.refill || (room > 0 && session.outstanding === 0)) session.pull(room);
  }

  private take(msg: Msg): void {
    const ackSubject = msg.reply;
    const info = ackSubject === undefined ? undefined : ackInfo(ackSubject);
    if (ackSubject === undefined || info === undefined) {
      this.transport.logger.warn('Dropped a message without a JetStream ack subject on a pull inbox', this.describe());
      return;
    }
    if (this.closed) {
      this.publishTo(ackSubject, NAK);
      return;
    }
    // A copy of the body: the received bytes are a view of the socket's read buffer, which a
    // held message would otherwise keep whole (other messages, protocol lines and all).
    const message = fromNatsMsg(msg, new Uint8Array(msg.data));
    const held = new Held(this, ackSubject, message, info.deliveryCount, info.streamSequence);
    const holdMs = delayHoldMs(message, this.target.group);
    if (holdMs === 0) {
      this.deliver(held);
      return;
    }
    // Its lease is kept meanwhile; after at most EMULATED_DELAY_HOLD_MS core has it (and
    // republishes it for this group when it is still not due).
    const leaseMs = this.transport.settings.options.ackWaitMs;
    const keep = setInterval(() => this.settle(held, WORKING), Math.max(100, Math.floor(leaseMs / 3)));
    const due = setTimeout(() => {
      clearInterval(keep);
      if (this.delayed.delete(held)) this.deliver(held);
    }, holdMs);
    this.delayed.set(held, [keep, due]);
  }

  private deliver(held: Held): void {
    this.unsettled++;
    this.held.add(held);
    held.touched = Date.now();
    this.onDelivery(settleOnce(held));
  }

  /** Core settled `held`: its room is free; `payload` (a nak) goes to the server. */
  release(held: Held, payload: Uint8Array | undefined): void {
    if (this.held.delete(held)) {
      this.unsettled--;
      this.fill();
    }
    if (payload !== undefined) this.settle(held, payload);
  }

  async confirmAck(held: Held): Promise<void> {
    try {
      await this.transport.replies.request(held.ackSubject, ACK, ACK_TIMEOUT_MS);
    } catch (err) {
      this.transport.logger.debug('An ack was not confirmed; JetStream redelivers the message after AckWait', { ...this.describe(), error: errorMessage(err) });
    }
  }

  /**
   * working() resets AckWait; the server does not answer it, so a lease that already ran out
   * (and may have been redelivered) is told by the clock.
   */
  extendLease(held: Held): boolean {
    if (!this.held.has(held) || Date.now() - held.touched >= this.transport.settings.options.ackWaitMs) return false;
    this.settle(held, WORKING);
    held.touched = Date.now();
    return true;
  }

  /** Naks and working() are fire-and-forget publishes: on a closed connection they are moot (JetStream redelivers after AckWait). */
  private settle(held: Held, payload: Uint8Array): void {
    this.publishTo(held.ackSubject, payload);
  }

  private publishTo(ackSubject: string, payload: Uint8Array): void {
    try {
      this.transport.nc.publish(ackSubject, payload);
    } catch (err) {
      this.transport.logger.debug('Settling on a closed NATS connection; JetStream redelivers after AckWait', { error: errorMessage(err) });
    }
  }

  private describe(): Record<string, string> {
    return { topic: this.target.topic, group: this.target.group };
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.watchdog);
    await this.loop;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
    // Whatever core or the delay hold still has goes back now, instead of after AckWait.
    for (const [held, timers] of this.delayed) {
      for (const timer of timers) clearTimeout(timer);
      this.settle(held, NAK);
    }
    this.delayed.clear();
    for (const held of [...this.held]) {
      this.held.delete(held);
      this.settle(held, NAK);
    }
    this.unsettled = 0;
    this.transport.consumers.delete(this);
  }
}

/** `-NAK {"delay": <ns>}`: redeliver after the delay. */
function nakWithDelay(delayMs: number): Uint8Array {
  return Buffer.from(`-NAK ${JSON.stringify({ delay: delayMs * 1_000_000 })}`);
}

interface AckInfo {
  readonly deliveryCount: number;
  readonly streamSequence: string;
}

/**
 * What the ack subject says about a delivery (ADR-15): `$JS.ACK.<stream>.<consumer>.<delivered>.
 * <stream seq>.<consumer seq>.<time>.<pending>`, or with `<domain>.<account hash>` after `$JS.ACK`
 * (and a random token at the end) on newer servers.
 */
export function ackInfo(subject: string): AckInfo | undefined {
  const tokens = subject.split('.');
  if (tokens[0] !== '$JS' || tokens[1] !== 'ACK') return undefined;
  const at = tokens.length === 9 ? 4 : tokens.length >= 11 ? 6 : -1;
  if (at < 0) return undefined;
  const deliveryCount = Number.parseInt(tokens[at] ?? '', 10);
  const streamSequence = tokens[at + 1] ?? '';
  if (!Number.isSafeInteger(deliveryCount) || deliveryCount < 1 || !/^\d+$/.test(streamSequence)) return undefined;
  return { deliveryCount, streamSequence };
}
