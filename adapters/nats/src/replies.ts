/**
 * Requests whose answer this process awaits (JetStream publish acks, ack confirmations), on one
 * wildcard inbox subscription: `<inbox>.r.<n>` names the request.
 *
 * nats.js's nc.request() does the same over its own mux, but allocates per request a timer, a
 * request object and, when it cleans up after an answer, an Error with a stack trace
 * (RequestOne.cancel). With two requests per message (the publish and the ack) that showed in
 * profiles; here a request is a map entry and a promise, and one sweep every SWEEP_MS times
 * them out.
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

const SWEEP_MS = 250;

interface Pending {
  readonly resolve: (msg: Msg) => void;
  readonly reject: (err: Error) => void;
  readonly deadline: number;
  readonly subject: string;
}

/** An answer with status 503: nobody listens on the subject (for a publish: no stream captures it). */
export class NoRespondersError extends Error {}

export class Replies {
  /**
   * Where answers arrive, `<prefix><token>`. For publish and ack answers `_INBOX.<id>.r.`: two
   * tokens past the inbox, more than any reply address a request may name, so no request can make
   * a reply handler answer into this map (a forged publish ack). For direct requests, whose
   * answer is a reply handler's, `_INBOX.<id>.`: exactly a reply address.
   */
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private readonly subscription: Subscription;
  private readonly sweeper: NodeJS.Timeout;
  private next = 0;

  constructor(
    private readonly nc: NatsConnection,
    answeredBy: 'server' | 'reply handlers' = 'server',
  ) {
    this.prefix = answeredBy === 'server' ? `${createInbox()}.r.` : `${createInbox()}.`;
    this.subscription = nc.subscribe(`${this.prefix}*`, { callback: (_err, msg) => this.answer(msg) });
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Publish to `subject` and resolve with the answer; rejects after `timeoutMs` (within SWEEP_MS) or on 503. */
  request(subject: string, payload: Uint8Array, timeoutMs: number, headers?: MsgHdrs): Promise<Msg> {
    const token = (this.next++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      // publish() throws on a closed connection or a payload over max_payload: nothing is pending then.
      this.nc.publish(subject, payload, headers ? { reply: this.prefix + token, headers } : { reply: this.prefix + token });
      this.pending.set(token, { resolve, reject, deadline: Date.now() + timeoutMs, subject });
    });
  }

  /** Reject whatever is still waiting; later answers are dropped. */
  close(): void {
    clearInterval(this.sweeper);
    if (!this.subscription.isClosed()) this.subscription.unsubscribe();
    for (const waiting of this.pending.values()) waiting.reject(new Error(`No answer from "${waiting.subject}": the connection closed.`));
    this.pending.clear();
  }

  private answer(msg: Msg | undefined): void {
    if (msg === undefined) return;
    const token = msg.subject.slice(this.prefix.length);
    const waiting = this.pending.get(token);
    if (waiting === undefined) return; // timed out already
    this.pending.delete(token);
    // Data first: reading msg.headers makes nats.js decode them, which fromNatsMsg spares a reply.
    if (msg.data.length === 0 && msg.headers?.code === 503) waiting.reject(new NoRespondersError(`No responders on "${waiting.subject}"`));
    else waiting.resolve(msg);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, waiting] of this.pending) {
      if (waiting.deadline > now) continue;
      this.pending.delete(token);
      waiting.reject(new Error(`No answer from "${waiting.subject}" in time (timeout).`));
    }
  }
}
