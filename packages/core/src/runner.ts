/**
 * Runs one subscription: decodes each delivery, runs the handler, and settles it. This is the
 * single place where a handler's outcome becomes ack / retry / dead-letter, for every broker:
 *   returns                → ack
 *   throws                 → retry with backoff (broker nack with delay, or in place) until maxAttempts, then dead-letter
 *   NonRetryableError, schema failure, undecodable bytes → dead-letter at once
 */
import { setMaxListeners } from 'node:events';
import type { Context } from '@opentelemetry/api';
import { Attr, type BadTimeReporter, decodeMessage, InternalHeader, warnBadTimeOnce } from './codec.js';
import { validateBody } from './contract.js';
import { type CopyForm, deadLetter } from './dead-letter.js';
import { dueAtFor, EMULATED_DELAY_HOLD_MS, republishForGroup } from './group-copy.js';
import { DecodeError, errorMessage, HandlerTimeoutError, NonRetryableError, PayloadTooLargeError, ValidationError } from './errors.js';
import type { ClaimResult, IdempotencyStore } from './idempotency.js';
import type { IdempotencyClaim } from './types.js';
import { backoffDelay } from './retry.js';
import { DEAD_LETTER_HEADROOM_BYTES } from './limits.js';
import type { RedeliveryScope } from './redeliveries.js';
import { Slots } from './slots.js';
import { outlasts, sleep } from './sleep.js';
import type { Delivery, Transport, TransportConsumer, WireMessage } from './spi.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import { countDeadLetterFailure, runInContext, telemetryActive, telemetryTarget, traceProcess, traceSettle, type SettleOperation, type TelemetryTarget } from './telemetry.js';
import type { Capabilities, CloseOptions, HandlerContext, Logger, Message, RetryPolicy } from './types.js';

export interface ResolvedIdempotency {
  readonly store: IdempotencyStore;
  readonly key: (msg: Message) => string;
  readonly ttlMs: number;
  readonly leaseMs: number;
}

export interface RunnerConfig {
  readonly transport: Transport;
  readonly topic: string;
  readonly group: string;
  readonly policy: RetryPolicy;
  readonly deadLetterTopic: string | false;
  readonly schema: StandardSchemaV1 | undefined;
  readonly idempotency: ResolvedIdempotency | undefined;
  readonly logger: Logger;
  /** Counts redeliveries where the broker does not (this topic and group's counts, shared with its pulls). */
  readonly redeliveries: RedeliveryScope;
  /** Most handlers running at once; enforced here, whatever the transport hands over. */
  readonly concurrency: number;
  /** Longest one handler attempt may run; undefined: no limit. */
  readonly handlerTimeoutMs: number | undefined;
  /**
   * Runs the user handler. `limit` wraps the user's own code so handlerTimeoutMs applies to it
   * alone. What it resolves to is ignored unless `remembersResult`.
   */
  readonly handle: (msg: Message, ctx: HandlerContext, wire: WireMessage, limit: LimitHandler) => Promise<unknown>;
  /**
   * Reply handlers: `handle` resolves to a string (the serialized reply) or undefined, which the
   * idempotency store keeps for duplicates. A subscription's handler result is never kept, and
   * ignoring it here costs no promise per message to map it to undefined.
   */
  readonly remembersResult?: boolean;
  /** `otel`: the process span's context for the handler's own sends (undefined when telemetry is off). */
  readonly makeContext: (msg: Message, attempt: number, signal: AbortSignal, otel: Context | undefined, claim?: IdempotencyClaim) => HandlerContext;
  /** Idempotency says this key was handled before; `result` is what handle returned then. */
  readonly onDuplicate?: (msg: Message, result: string | undefined, wire: WireMessage) => Promise<void>;
  /** A message that can never be handled (bad bytes, schema): called before dead-lettering. */
  readonly onPoison?: (wire: WireMessage, error: unknown) => Promise<void>;
}

/** Runs user code under the attempt's time limit: rejects with HandlerTimeoutError past it. */
export type LimitHandler = <T>(run: () => T | Promise<T>) => Promise<T>;

/** Refused dead-letter publishes are retried from ~0.5 s, doubling, up to ~1 min apart. */
const DEAD_LETTER_RETRY: RetryPolicy = { maxAttempts: Number.MAX_SAFE_INTEGER, initialDelayMs: 1000, maxDelayMs: 60_000, factor: 2 };

interface Tracked {
  readonly delivery: Delivery;
  readonly receivedAt: number;
  settled: boolean;
  /** The lease keeper stopped extending it (lease already ended, or held past the cap). */
  leaseReleased?: boolean;
  /** The last process span's context: the parent of its settle span. */
  otel?: Context | undefined;
}

/** Longest core keeps extending one delivery's lease; past it the broker may redeliver it. */
export const MAX_LEASE_HOLD_MS = 3_600_000;

export class SubscriptionRunner {
  private consumer: TransportConsumer | undefined;
  /** Every delivery held, with the work settling it (keyed by the delivery: no closure per message to remove it). */
  private readonly inFlight = new Map<Tracked, Promise<void>>();
  /** Aborts when close() starts: no new retries, no waiting on delays. */
  private readonly stopping = new AbortController();
  /** Aborts when close() gives up waiting: handlers see ctx.signal abort. */
  private readonly abandoning = new AbortController();
  private readonly slots: Slots;
  private readonly badTime: BadTimeReporter;
  private closing: Promise<void> | undefined;
  /** Extends the leases of every held delivery (lease-based transports only). */
  private leaseKeeper: NodeJS.Timeout | undefined;
  private readonly telemetry: TelemetryTarget;

  constructor(private readonly config: RunnerConfig) {
    this.telemetry = telemetryTarget(config.transport);
    this.slots = new Slots(config.concurrency, this.stopping.signal);
    this.badTime = warnBadTimeOnce(config.logger);
    // One listener per delivery waiting for a slot, a delay or a retry: bounded by the prefetch,
    // which may well exceed Node's default of 10 — not a leak.
    setMaxListeners(0, this.stopping.signal, this.abandoning.signal);
  }

  attach(consumer: TransportConsumer): void {
    this.consumer = consumer;
  }

  get topic(): string {
    return this.config.topic;
  }

  get group(): string {
    return this.config.group;
  }

  get maxAttempts(): number {
    return this.config.policy.maxAttempts;
  }

  get retry(): RetryPolicy {
    return this.config.policy;
  }

  /** Called by the transport for each delivery. */
  readonly onDelivery = (delivery: Delivery): void => {
    if (this.stopping.signal.aborted) {
      // Arrived after stop() (in flight from the broker): hand it back untouched.
      delivery.abandon().catch((err: unknown) => this.config.logger.debug('Returning a late delivery failed; the broker redelivers it', { error: errorMessage(err) }));
      return;
    }
    const tracked: Tracked = { delivery, receivedAt: Date.now(), settled: false };
    this.keepLeases();
    this.inFlight.set(tracked, this.run(tracked));
  };

  /**
   * Process one delivery; never rejects. The usual path (admitted at once, a slot, the handler,
   * the ack) is this one async frame: the rare paths are async functions of their own, so their
   * locals do not enlarge the frame every message allocates (npm run bench, heap sampling).
   * Removes the delivery from inFlight when done, always after onDelivery added it: every path
   * awaits first (admit() does not throw; a throw there would become the awaited rejection).
   */
  private async run(tracked: Tracked): Promise<void> {
    try {
      let admitted: Message | Promise<Message | undefined>;
      try {
        admitted = this.admit(tracked);
      } catch (err) {
        admitted = Promise.reject(err);
      }
      let msg = admitted instanceof Promise ? await admitted : admitted;
      while (msg !== undefined) {
        if (!this.slots.tryAcquire() && !(await this.slots.acquire())) {
          await this.settle(tracked, 'abandon', abandon);
          return;
        }
        let failure: unknown;
        let failed = false;
        try {
          await this.invoke(msg, tracked);
        } catch (err) {
          failed = true;
          failure = err;
        } finally {
          this.slots.release();
        }
        if (!failed) {
          await this.settle(tracked, 'ack', ack, true);
          return;
        }
        msg = await this.afterFailure(tracked, msg, failure);
      }
    } catch (err) {
      this.config.logger.error('Settling a message failed; the broker will redeliver it', { topic: this.config.topic, group: this.config.group, error: errorMessage(err) });
    } finally {
      this.inFlight.delete(tracked);
    }
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.drain(options);
    return this.closing;
  }

  private async drain({ drainTimeoutMs }: CloseOptions): Promise<void> {
    this.stopping.abort();
    await this.consumer?.stop();
    const all = Promise.all([...this.inFlight.values()]);
    if (drainTimeoutMs === undefined) {
      await all;
    } else {
      if (await outlasts(all, drainTimeoutMs)) {
        this.abandoning.abort();
        // All at once: settle() marks each settled before its first await, so a handler that
        // returns on the abort cannot ack what is being handed back while a slow abandon (one
        // broker round trip each, e.g. Pub/Sub's modifyAckDeadline) is still in flight.
        await Promise.all([...this.inFlight.keys()].map((tracked) => this.settle(tracked, 'abandon', abandon)));
      }
    }
    await this.consumer?.close();
    clearInterval(this.leaseKeeper);
  }

  /**
   * Lease-based brokers redeliver what is not settled within capabilities.leaseMs. Everything this
   * runner holds — handler running, waiting for a slot, an in-place retry's backoff, an emulated
   * delay, a dead-letter publish being retried — is extended at a third of the lease, so a slow
   * handler runs once and its attempt count does not grow behind its back.
   */
  private keepLeases(): void {
    const leaseMs = this.config.transport.capabilities.leaseMs;
    if (leaseMs === undefined || this.leaseKeeper !== undefined) return;
    this.leaseKeeper = setInterval(() => this.extendLeases(leaseMs), Math.max(10, Math.floor(leaseMs / 3)));
    this.leaseKeeper.unref();
  }

  private extendLeases(leaseMs: number): void {
    const now = Date.now();
    for (const tracked of this.inFlight.keys()) {
      const { delivery } = tracked;
      if (tracked.settled || tracked.leaseReleased || delivery.extend === undefined) continue;
      if (now - tracked.receivedAt > MAX_LEASE_HOLD_MS) {
        tracked.leaseReleased = true;
        this.config.logger.warn('Held past the lease cap; no longer extending, the broker may redeliver it', {
          topic: this.config.topic,
          group: this.config.group,
          heldMs: now - tracked.receivedAt,
        });
        continue;
      }
      delivery.extend(leaseMs).then(
        (extended) => {
          if (!extended) tracked.leaseReleased = true;
        },
        (err: unknown) => this.config.logger.debug('Extending a lease failed; trying again next round', { topic: this.config.topic, error: errorMessage(err) }),
      );
    }
  }

  /**
   * The message to run the handler on now, or a promise of the rare paths: a copy for another
   * group (settled), not due yet (held, or republished), async schema validation, undecodable
   * (dead-lettered), past its last attempt (dead-lettered). Their promise resolves to the message
   * to handle, or undefined once the delivery is settled.
   */
  private admit(tracked: Tracked): Message | Promise<Message | undefined> {
    const { config } = this;
    const wire = tracked.delivery.message;
    const attempt = config.redeliveries.attempt(tracked.delivery, config.transport.capabilities.deliveryCount);
    const forGroup = wire.headers[InternalHeader.forGroup];
    if (forGroup !== undefined && forGroup !== config.group) return settledWith(this.settle(tracked, 'ack', ack, true));
    // Most messages are due at once and cost no await here.
    const dueAt = dueAtFor(wire, config.group);
    if (dueAt > Date.now()) return this.admitWhenDue(tracked, attempt, dueAt);
    return this.decode(tracked, attempt);
  }

  private async admitWhenDue(tracked: Tracked, attempt: number, dueAt: number): Promise<Message | undefined> {
    const due = await this.waitUntilDue(tracked, attempt, dueAt);
    if (due === 'stopped') return settledWith(this.settle(tracked, 'abandon', abandon));
    if (due === 'republished') return undefined;
    return this.decode(tracked, attempt);
  }

  private decode(tracked: Tracked, attempt: number): Message | Promise<Message | undefined> {
    const { config } = this;
    let decoded: Message;
    let validated: unknown;
    try {
      decoded = decodeMessage(tracked.delivery.message, config.topic, attempt, tracked.delivery.brokerId, this.badTime);
      // Without a schema, no label string is built per message.
      validated = config.schema === undefined ? decoded.body : validateBody(config.schema, decoded.body, `Message ${decoded.id} on "${config.topic}"`);
    } catch (err) {
      return this.rejectPoison(tracked, err, attempt);
    }
    if (validated instanceof Promise) return this.validated(tracked, decoded, validated); // only an async schema costs an await
    return this.withinAttempts(tracked, validated === decoded.body ? decoded : { ...decoded, body: validated }); // no schema, or one that returns the input: no copy
  }

  private async validated(tracked: Tracked, decoded: Message, validating: Promise<unknown>): Promise<Message | undefined> {
    let body: unknown;
    try {
      body = await validating;
    } catch (err) {
      return this.rejectPoison(tracked, err, decoded.attempt);
    }
    return this.withinAttempts(tracked, body === decoded.body ? decoded : { ...decoded, body });
  }

  /** Undecodable bytes or a schema failure: report it, then dead-letter it at once. */
  private async rejectPoison(tracked: Tracked, err: unknown, attempt: number): Promise<undefined> {
    const { config } = this;
    await config.onPoison?.(tracked.delivery.message, err).catch((e: unknown) => config.logger.warn('Reporting a poison message failed', { error: errorMessage(e) }));
    await this.deadLetterAndAck(tracked, err, attempt);
    return undefined;
  }

  /**
   * Redelivered past its last attempt (e.g. an earlier dead-letter publish failed, then the
   * consumer went away): dead-letter it now; the handler already had all its attempts.
   */
  private withinAttempts(tracked: Tracked, msg: Message): Message | Promise<undefined> {
    const { policy, deadLetterTopic } = this.config;
    if (msg.attempt <= policy.maxAttempts || deadLetterTopic === false) return msg;
    const reason = `Delivered ${msg.attempt} times; maxAttempts is ${policy.maxAttempts}, so it is dead-lettered without running the handler again.`;
    return settledWith(this.deadLetterAndAck(tracked, new Error(reason), msg.attempt));
  }

  /** A failed attempt: dead-letter it, hand it back, or wait out the backoff. The message for the next attempt, or undefined once settled. */
  private async afterFailure(tracked: Tracked, msg: Message, failure: unknown): Promise<Message | undefined> {
    const { config } = this;
    const attempt = msg.attempt;
    if (this.abandoning.signal.aborted) return settledWith(this.settle(tracked, 'abandon', abandon));
    const poison = failure instanceof NonRetryableError || failure instanceof ValidationError || failure instanceof DecodeError;
    if (poison || attempt >= config.policy.maxAttempts) return settledWith(this.deadLetterAndAck(tracked, failure, attempt));
    config.logger.warn('Handler failed; will retry', { topic: config.topic, group: config.group, id: msg.id, attempt, error: errorMessage(failure) });
    if (this.stopping.signal.aborted) return settledWith(this.settle(tracked, 'abandon', abandon));
    const delayMs = backoffDelay(config.policy, attempt + 1);
    // The part of the backoff the broker cannot wait out for us is waited here, holding the
    // delivery (the lease keeper extends it); its handler slot is free meanwhile.
    const { waitMs, nackDelayMs } = splitRetryDelay(config.transport.capabilities, delayMs);
    await sleep(waitMs, this.stopping.signal);
    if (this.stopping.signal.aborted) return settledWith(this.settle(tracked, 'abandon', abandon));
    // Back to the broker where it can redeliver: its count of deliveries then survives a crash of this process.
    if (nackDelayMs !== undefined) return settledWith(this.settle(tracked, 'nack', (d) => d.nack({ delayMs: nackDelayMs })));
    return { ...msg, attempt: attempt + 1 };
  }

  /**
   * Emulated delay: hold a message not yet due (without a handler slot) for at most
   * EMULATED_DELAY_HOLD_MS; if it is still not due then, republish it for this group and settle
   * the original.
   */
  private async waitUntilDue(tracked: Tracked, attempt: number, dueAt: number): Promise<'due' | 'republished' | 'stopped'> {
    const { config } = this;
    const wire = tracked.delivery.message;
    await sleep(Math.min(dueAt - Date.now(), EMULATED_DELAY_HOLD_MS), this.stopping.signal);
    if (this.stopping.signal.aborted) return 'stopped';
    if (dueAt <= Date.now()) return 'due';
    try {
      // Not handled yet: the copy's first delivery is this same attempt.
      await republishForGroup(config.transport, wire, { topic: config.topic, group: config.group, priorAttempts: attempt - 1, dueAt });
    } catch (err) {
      // Not confirmed: keep the original; the broker gives it back and it is held again.
      config.logger.warn('Republishing a delayed message failed; it stays on the broker', { topic: config.topic, group: config.group, error: errorMessage(err) });
      return 'stopped';
    }
    await this.settle(tracked, 'ack', ack, true);
    return 'republished';
  }

  /** Trace context rides in the wire headers (not msg.headers), so the span's parent comes from `wire`. */
  private invoke(msg: Message, tracked: Tracked): Promise<unknown> {
    const { config } = this;
    // Returned, not awaited, and the handler's promise passed on as it is: each suspended async
    // frame held per in-flight message counts (npm run bench, heap per in-flight message).
    // Without an OpenTelemetry SDK there is no span, and no closure per message to run in one.
    if (!telemetryActive()) return this.runHandler(msg, tracked, undefined);
    return traceProcess<unknown>(this.telemetry, config.topic, config.group, msg, tracked.delivery.message, (otel) => this.runHandler(msg, tracked, otel));
  }

  private runHandler(msg: Message, tracked: Tracked, otel: Context | undefined): Promise<unknown> {
    const { config } = this;
    const { attempt } = msg;
    const wire = tracked.delivery.message;
    tracked.otel = otel;
    const timeout = config.handlerTimeoutMs === undefined ? undefined : new AbortController();
    const signal = timeout === undefined ? this.abandoning.signal : AbortSignal.any([this.abandoning.signal, timeout.signal]);
    const limit = this.limiter(timeout);
    const idem = config.idempotency;
    if (idem === undefined) return config.handle(msg, config.makeContext(msg, attempt, signal, otel), wire, limit);
    return this.invokeOnce(idem, msg, attempt, signal, otel, wire, limit);
  }

  /** With idempotency: claim the key, run the handler once for it, mark it done (or release it). */
  private async invokeOnce(
    idem: ResolvedIdempotency,
    msg: Message,
    attempt: number,
    signal: AbortSignal,
    otel: Context | undefined,
    wire: WireMessage,
    limit: LimitHandler,
  ): Promise<void> {
    const { config } = this;
    const key = idem.key(msg);
    const claim = await this.claim(idem, key);
    if (claim.status === 'done') {
      config.logger.debug('Duplicate skipped by idempotency store', { topic: config.topic, key });
      await config.onDuplicate?.(msg, claim.result, wire);
      return;
    }
    const { token } = claim;
    const ctx = config.makeContext(msg, attempt, signal, otel, { key, token });
    const keeper = this.keepClaim(idem, key, token);
    let result: string | undefined;
    try {
      const handled = await config.handle(msg, ctx, wire, limit);
      if (config.remembersResult === true) result = handled as string | undefined;
    } catch (err) {
      clearInterval(keeper);
      await idem.store
        .release(key, token)
        .catch((e: unknown) => config.logger.warn('Releasing an idempotency claim failed; it expires with its lease', { key, error: errorMessage(e) }));
      throw err;
    }
    clearInterval(keeper);
    const completed = await idem.store.complete(key, token, result === undefined ? { ttlMs: idem.ttlMs } : { ttlMs: idem.ttlMs, result });
    // The handler outlived its lease (another instance may have taken the key over): nothing to undo, but say so.
    if (!completed) config.logger.warn('Handler outlived its idempotency lease; no done mark recorded. Raise idempotency.leaseMs', { topic: config.topic, key });
  }

  /**
   * While the handler runs, renew the claim's lease at a third of it (stores with extend()), so a
   * handler slower than idempotency.leaseMs keeps its key instead of another instance taking it over.
   */
  private keepClaim(idem: ResolvedIdempotency, key: string, token: string): NodeJS.Timeout | undefined {
    const extend = idem.store.extend?.bind(idem.store);
    if (extend === undefined) return undefined;
    const timer = setInterval(
      () => {
        extend(key, token, { leaseMs: idem.leaseMs }).then(
          (kept) => {
            if (!kept) {
              clearInterval(timer);
              this.config.logger.warn('Lost the idempotency claim while the handler runs (lease lapsed); another instance may run it too', { topic: this.config.topic, key });
            }
          },
          (err: unknown) => this.config.logger.warn('Extending an idempotency claim failed; trying again', { topic: this.config.topic, key, error: errorMessage(err) }),
        );
      },
      Math.max(10, Math.floor(idem.leaseMs / 3)),
    );
    timer.unref();
    return timer;
  }

  /** Race user code against handlerTimeoutMs; on expiry abort the attempt's signal and reject. */
  private limiter(timeout: AbortController | undefined): LimitHandler {
    const ms = this.config.handlerTimeoutMs;
    if (timeout === undefined || ms === undefined) return runUnlimited;
    const topic = this.config.topic;
    return (run) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const error = new HandlerTimeoutError(topic, ms);
          timeout.abort(error);
          reject(error);
        }, ms);
        // A handler that ignores the signal keeps running; its late outcome is dropped here.
        Promise.resolve()
          .then(run)
          .then(
            (value) => {
              clearTimeout(timer);
              resolve(value);
            },
            (err: unknown) => {
              clearTimeout(timer);
              reject(err);
            },
          );
      });
  }

  /** Claim the key; while another instance holds it, wait for it to finish or give up its claim. */
  private async claim(idem: ResolvedIdempotency, key: string): Promise<Exclude<ClaimResult, { status: 'busy' }>> {
    const deadline = Date.now() + idem.leaseMs;
    let pause = 20;
    for (;;) {
      const claim = await idem.store.claim(key, { leaseMs: idem.leaseMs });
      if (claim.status !== 'busy') return claim;
      if (Date.now() > deadline || this.stopping.signal.aborted) {
        throw new Error(`Idempotency key "${key}" is still being handled elsewhere; retrying later.`);
      }
      await sleep(pause, this.stopping.signal);
      pause = Math.min(pause * 2, 1000);
    }
  }

  /**
   * Dead-letter, then ack the original. A dead-letter publish the broker refuses is retried here
   * with capped exponential backoff — never by running the handler again — holding the delivery
   * but no handler slot, so the messages behind it keep flowing.
   */
  private async deadLetterAndAck(tracked: Tracked, error: unknown, attempts: number): Promise<void> {
    const { config } = this;
    const wire = tracked.delivery.message;
    const id = wire.headers[Attr.id];
    if (config.deadLetterTopic === false) {
      config.logger.error('Dropping a message that failed its last attempt (deadLetter: false)', {
        topic: config.topic,
        group: config.group,
        id,
        attempts,
        error: errorMessage(error),
      });
      return this.settle(tracked, 'ack', ack, true);
    }
    let form: CopyForm = 'full';
    for (let failures = 1; ; failures++) {
      try {
        await runInContext(tracked.otel, () => deadLetter(config, wire, error, attempts, form));
        break;
      } catch (dlqError) {
        countDeadLetterFailure(this.telemetry, config.topic, config.group, dlqError);
        if (form === 'full' && (dlqError instanceof ValidationError || dlqError instanceof PayloadTooLargeError)) {
          // The broker refuses this copy for what it is, not for the moment: send the minimal one instead.
          form = 'minimal';
          config.logger.error('The broker refused the dead-letter copy; dead-lettering it without body, key and user headers', {
            topic: config.topic,
            group: config.group,
            id,
            error: errorMessage(dlqError),
          });
          continue;
        }
        const retryInMs = backoffDelay(DEAD_LETTER_RETRY, failures + 1);
        config.logger.error('Dead-lettering failed; retrying the dead-letter publish (the handler does not run again)', {
          topic: config.topic,
          group: config.group,
          deadLetterTopic: config.deadLetterTopic,
          id,
          failures,
          retryInMs,
          error: errorMessage(dlqError),
        });
        await sleep(retryInMs, this.stopping.signal);
        // Closing: leave it to the broker. Its next delivery is past maxAttempts and goes straight here.
        if (this.stopping.signal.aborted) return this.settle(tracked, 'abandon', abandon);
      }
    }
    if (tracked.delivery.message.body.byteLength > 0 && config.transport.capabilities.maxPayloadBytes + DEAD_LETTER_HEADROOM_BYTES < wire.body.byteLength) {
      config.logger.error('Dead-lettered without its body: it is larger than the transport takes', { topic: config.topic, group: config.group, id, bytes: wire.body.byteLength });
    }
    config.logger.warn('Message dead-lettered', { topic: config.topic, group: config.group, deadLetterTopic: config.deadLetterTopic, id, attempts, error: errorMessage(error) });
    return this.settle(tracked, 'dead_letter', ack, true);
  }

  /**
   * `final`: the message leaves for good (acked), so its redelivery count is forgotten. Not async:
   * it runs for every message, and the transport's promise is all it needs to hand back.
   */
  private settle(tracked: Tracked, operation: SettleOperation, action: (d: Delivery) => Promise<void>, final = false): Promise<void> {
    if (tracked.settled) return SETTLED;
    tracked.settled = true;
    const { config, telemetry } = this;
    try {
      if (final) config.redeliveries.forget(tracked.delivery);
      return traceSettle(telemetry, operation, config.topic, config.group, tracked.delivery.message, tracked.otel, action, tracked.delivery);
    } catch (err) {
      // An adapter's settle that throws instead of rejecting: still a rejection, as from an async function.
      return Promise.reject(err);
    }
  }
}

// Shared, so settling and running a handler allocate no closure per message.
const ack = (d: Delivery) => d.ack();
const abandon = (d: Delivery) => d.abandon();
/** Resolves to undefined (nothing more to handle) once `settling` has. */
async function settledWith(settling: Promise<void>): Promise<undefined> {
  await settling;
  return undefined;
}
/** What settling an already settled delivery returns. */
const SETTLED: Promise<void> = Promise.resolve();
/** Not async: the handler's own promise is passed on (one promise less per message); a throw becomes a rejection. */
const runUnlimited: LimitHandler = (run) => {
  try {
    return Promise.resolve(run());
  } catch (err) {
    return Promise.reject(err);
  }
};

/**
 * How a retry after `delayMs` uses the broker: nack 'delayed' takes up to maxNackDelayMs and the
 * rest is waited in place first; 'immediate' waits it all in place, then nacks; 'none' waits in
 * place and retries without the broker (nackDelayMs undefined).
 */
export function splitRetryDelay(caps: Pick<Capabilities, 'nack' | 'maxNackDelayMs'>, delayMs: number): { waitMs: number; nackDelayMs?: number } {
  if (caps.nack === 'none') return { waitMs: delayMs };
  const nackDelayMs = caps.nack === 'delayed' ? Math.min(delayMs, caps.maxNackDelayMs) : 0;
  return { waitMs: delayMs - nackDelayMs, nackDelayMs };
}
