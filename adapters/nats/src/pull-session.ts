/**
 * JetStream pull requests on one long-lived inbox subscription, with the count of messages asked
 * for and not yet received (`outstanding`), so the consumer can ask for exactly the room it has.
 *
 * nats.js offers fetch() (a subscription, timers and a status iterator per batch, and a round
 * trip before the next batch can be asked for) and consume() (refills by what it received, not by
 * what was settled, so it holds more than the prefetch). This speaks the pull protocol
 * (ADR-13) directly instead: a pull request is one publish to
 * `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with this inbox as its reply subject. The
 * server answers on the inbox with the messages (their own subject, an ack subject as reply) and
 * with status messages (subject = the inbox): 408 when a request expired and 409 for one it
 * dropped, both saying in Nats-Pending-Messages how many of its messages were never sent.
 *
 * Anything it cannot account for (a status without that count, the consumer deleted, no
 * JetStream) ends the session: the owner opens a new one on a new inbox, so nothing a stale
 * request still sends is counted (the server drops requests whose inbox has no interest; a
 * message already on its way comes back after AckWait).
 */
import { createInbox, type Msg, type NatsConnection, nanos, type Subscription } from '@nats-io/transport-node';

/** How long one pull request waits on the server for messages; a new one follows it. */
export const PULL_EXPIRES_MS = 5_000;
/** Past its expiry, a request the server never answered (not even its 408) is taken for lost. */
const LOST_AFTER_MS = PULL_EXPIRES_MS + 2_500;

const PENDING_MESSAGES = 'Nats-Pending-Messages';

export interface PullSessionEvents {
  /** A message of the consumer: its reply subject is where it is acked. */
  message(msg: Msg): void;
  /** Messages asked for will not come (a request expired or was dropped): room to ask again. */
  returned(): void;
  /** The session cannot go on: `error` says why (the consumer may be gone). */
  ended(error: Error): void;
}

export class PullSession {
  /** Messages asked for that have neither arrived nor been returned. */
  outstanding = 0;
  private readonly inbox = createInbox();
  private readonly subscription: Subscription;
  /** Last time the server said anything here, or a request went out with none outstanding. */
  private heardAt = Date.now();
  private done = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly nextSubject: string,
    private readonly events: PullSessionEvents,
  ) {
    this.subscription = nc.subscribe(this.inbox, { callback: (err, msg) => (err ? this.end(err) : this.receive(msg)) });
  }

  /** Ask for up to `batch` more messages. */
  pull(batch: number): void {
    if (this.done || batch <= 0) return;
    if (this.outstanding === 0) this.heardAt = Date.now();
    this.outstanding += batch;
    try {
      this.nc.publish(this.nextSubject, JSON.stringify({ batch, expires: nanos(PULL_EXPIRES_MS) }), { reply: this.inbox });
    } catch (err) {
      // The connection closed (nats.js buffers while it reconnects): the owner's retry sorts it out.
      this.end(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** True when messages are outstanding and the server has been silent past the expiry of every request. */
  stalled(now = Date.now()): boolean {
    return !this.done && this.outstanding > 0 && now - this.heardAt > LOST_AFTER_MS;
  }

  close(): void {
    this.done = true;
    if (!this.subscription.isClosed()) this.subscription.unsubscribe();
  }

  private receive(msg: Msg): void {
    if (this.done) return;
    this.heardAt = Date.now();
    if (msg.subject !== this.inbox) {
      if (this.outstanding > 0) this.outstanding--;
      this.events.message(msg);
      return;
    }
    const status = msg.headers;
    const code = status?.code ?? 0;
    if (code === 100) return; // idle heartbeat
    const pending = Number.parseInt(status?.get(PENDING_MESSAGES) ?? '', 10);
    const consumerGone = code === 409 && /consumer (is )?deleted/i.test(status?.description ?? '');
    if ((code === 408 || code === 409) && Number.isFinite(pending) && !consumerGone) {
      this.outstanding = Math.max(0, this.outstanding - pending);
      this.events.returned();
      return;
    }
    this.end(new Error(`JetStream answered a pull request with ${code} ${status?.description ?? ''}`.trim()));
  }

  private end(error: Error): void {
    if (this.done) return;
    this.close();
    this.events.ended(error);
  }
}
