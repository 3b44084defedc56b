/**
 * Runs one subscription: decodes each delivery, runs the handler, and settles it. This is the
 * single place where a handler's outcome becomes ack / retry / dead-letter, for every broker:
 *   returns                → ack
 *   throws                 → retry with backoff (broker nack with delay, or in place) until maxAttempts, then dead-letter
 *   NonRetryableError, schema failure, undecodable bytes → dead-letter at once
 */
import { setMaxListeners } from 'node:events';
import type { Context } from '@opentelemetry/api';
import type { ZodType } from 'zod';
import { Attr, decodeMessage } from './codec.js';
import { validateBody } from './contract.js';
import { deadLetter } from './dead-letter.js';
import { DecodeError, errorMessage, NonRetryableError, ValidationError } from './errors.js';
import type { IdempotencyStore } from './idempotency.js';
import { backoffDelay } from './retry.js';
import { sleep } from './sleep.js';
import type { Delivery, Transport, TransportConsumer, WireMessage } from './spi.js';
import { withProcessSpan } from './telemetry.js';
import type { CloseOptions, HandlerContext, Logger, Message, RetryPolicy } from './types.js';

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
  readonly schema: ZodType | undefined;
  readonly idempotency: ResolvedIdempotency | undefined;
  readonly logger: Logger;
  /** Runs the user handler; may return a string the idempotency store remembers (a reply). */
  readonly handle: (msg: Message, ctx: HandlerContext, wire: WireMessage) => Promise<string | undefined>;
  readonly makeContext: (msg: Message, attempt: number, signal: AbortSignal, otel: Context) => HandlerContext;
  /** Idempotency says this key was handled before; `result` is what handle returned then. */
  readonly onDuplicate?: (msg: Message, result: string | undefined, wire: WireMessage) => Promise<void>;
  /** A message that can never be handled (bad bytes, schema): called before dead-lettering. */
  readonly onPoison?: (wire: WireMessage, error: unknown) => Promise<void>;
}

interface Tracked {
  readonly delivery: Delivery;
  settled: boolean;
}

export class SubscriptionRunner {
  private consumer: TransportConsumer | undefined;
  private readonly inFlight = new Map<Promise<void>, Tracked>();
  /** Aborts when close() starts: no new retries, no waiting on delays. */
  private readonly stopping = new AbortController();
  /** Aborts when close() gives up waiting: handlers see ctx.signal abort. */
  private readonly abandoning = new AbortController();
  private closing: Promise<void> | undefined;

  constructor(private readonly config: RunnerConfig) {
    // Every in-flight message may wait on these at once (retry sleeps, idempotency claims, handlers
    // passing ctx.signal on): listeners are bounded by concurrency, so Node's leak warning at 11 is noise.
    setMaxListeners(0, this.stopping.signal, this.abandoning.signal);
  }

  attach(consumer: TransportConsumer): void {
    this.consumer = consumer;
  }

  /** Called by the transport for each delivery. */
  readonly onDelivery = (delivery: Delivery): void => {
    if (this.stopping.signal.aborted) {
      // Arrived after stop() (in flight from the broker): hand it back untouched.
      delivery.abandon().catch((err: unknown) => this.config.logger.debug('Returning a late delivery failed; the broker redelivers it', { error: errorMessage(err) }));
      return;
    }
    const tracked: Tracked = { delivery, settled: false };
    const work = this.process(tracked).catch((err: unknown) => {
      this.config.logger.error('Settling a message failed; the broker will redeliver it', { topic: this.config.topic, group: this.config.group, error: errorMessage(err) });
    });
    this.inFlight.set(work, tracked);
    void work.finally(() => this.inFlight.delete(work));
  };

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.drain(options);
    return this.closing;
  }

  private async drain({ drainTimeoutMs }: CloseOptions): Promise<void> {
    this.stopping.abort();
    await this.consumer?.stop();
    const all = Promise.all([...this.inFlight.keys()]);
    if (drainTimeoutMs === undefined) {
      await all;
    } else {
      const timedOut = await Promise.race([all.then(() => false), sleep(drainTimeoutMs).then(() => true)]);
      if (timedOut) {
        this.abandoning.abort();
        for (const tracked of this.inFlight.values()) await this.settle(tracked, (d) => d.abandon());
      }
    }
    await this.consumer?.close();
  }

  private async process(tracked: Tracked): Promise<void> {
    const { config } = this;
    const wire = tracked.delivery.message;
    let attempt = tracked.delivery.deliveryCount;

    if (!(await this.waitUntilDue(wire))) return this.settle(tracked, (d) => d.abandon());

    let msg: Message;
    try {
      const decoded = decodeMessage(wire, config.topic, attempt, tracked.delivery.brokerId);
      msg = { ...decoded, body: validateBody(config.schema, decoded.body, `Message ${decoded.id} on "${config.topic}"`) };
    } catch (err) {
      await config.onPoison?.(wire, err).catch((e: unknown) => config.logger.warn('Reporting a poison message failed', { error: errorMessage(e) }));
      return this.deadLetterAndAck(tracked, err, attempt);
    }

    for (;;) {
      try {
        await this.invoke(msg, attempt, wire);
        return this.settle(tracked, (d) => d.ack());
      } catch (err) {
        if (this.abandoning.signal.aborted) return this.settle(tracked, (d) => d.abandon());
        const poison = err instanceof NonRetryableError || err instanceof ValidationError || err instanceof DecodeError;
        if (poison || attempt >= config.policy.maxAttempts) return this.deadLetterAndAck(tracked, err, attempt);
        config.logger.warn('Handler failed; will retry', { topic: config.topic, group: config.group, id: msg.id, attempt, error: errorMessage(err) });
        if (this.stopping.signal.aborted) return this.settle(tracked, (d) => d.abandon());
        const delayMs = backoffDelay(config.policy, attempt + 1);
        if (config.transport.capabilities.nack) return this.settle(tracked, (d) => d.nack({ delayMs }));
        // No broker-side redelivery: retry in place. The delivery stays unsettled, holding its slot.
        await sleep(delayMs, this.stopping.signal);
        if (this.stopping.signal.aborted) return this.settle(tracked, (d) => d.abandon());
        attempt += 1;
        msg = { ...msg, attempt };
      }
    }
  }

  /** Emulated delay: hold a message until its not-before time. False if closing meanwhile. */
  private async waitUntilDue(wire: WireMessage): Promise<boolean> {
    const notBefore = wire.headers[Attr.notBefore];
    if (notBefore === undefined) return true;
    const wait = Date.parse(notBefore) - Date.now();
    if (wait > 0) await sleep(wait, this.stopping.signal);
    return !this.stopping.signal.aborted;
  }

  /** Trace context rides in the wire headers (not msg.headers), so the span's parent comes from `wire`. */
  private async invoke(msg: Message, attempt: number, wire: WireMessage): Promise<void> {
    const { config } = this;
    const attrs = { system: config.transport.name, topic: config.topic, group: config.group, id: msg.id, correlationId: msg.correlationId };
    await withProcessSpan(attrs, wire.headers, async (otel) => {
      const ctx = config.makeContext(msg, attempt, this.abandoning.signal, otel);
      const idem = config.idempotency;
      if (idem === undefined) {
        await config.handle(msg, ctx, wire);
        return;
      }
      const key = idem.key(msg);
      const claim = await this.claim(idem, key);
      if (claim.status === 'done') {
        config.logger.debug('Duplicate skipped by idempotency store', { topic: config.topic, key });
        await config.onDuplicate?.(msg, claim.result, wire);
        return;
      }
      let result: string | undefined;
      try {
        result = await config.handle(msg, ctx, wire);
      } catch (err) {
        await idem.store
          .release(key)
          .catch((e: unknown) => config.logger.warn('Releasing an idempotency claim failed; it expires with its lease', { key, error: errorMessage(e) }));
        throw err;
      }
      await idem.store.complete(key, result === undefined ? { ttlMs: idem.ttlMs } : { ttlMs: idem.ttlMs, result });
    });
  }

  /** Claim the key; while another instance holds it, wait for it to finish or give up its claim. */
  private async claim(idem: ResolvedIdempotency, key: string): Promise<{ status: 'claimed' } | { status: 'done'; result?: string }> {
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

  private async deadLetterAndAck(tracked: Tracked, error: unknown, attempts: number): Promise<void> {
    const { config } = this;
    const wire = tracked.delivery.message;
    if (config.deadLetterTopic === false) {
      config.logger.error('Dropping a message that failed its last attempt (deadLetter: false)', {
        topic: config.topic,
        group: config.group,
        id: wire.headers[Attr.id],
        attempts,
        error: errorMessage(error),
      });
      return this.settle(tracked, (d) => d.ack());
    }
    try {
      await deadLetter(config, wire, error, attempts);
    } catch (dlqError) {
      // Not confirmed in the DLQ: keep the original so nothing is lost; it comes back and tries again.
      config.logger.error('Dead-lettering failed; the message will be redelivered', {
        topic: config.topic,
        deadLetterTopic: config.deadLetterTopic,
        error: errorMessage(dlqError),
      });
      const delayMs = backoffDelay(config.policy, config.policy.maxAttempts);
      return this.settle(tracked, (d) => (config.transport.capabilities.nack ? d.nack({ delayMs }) : d.abandon()));
    }
    config.logger.warn('Message dead-lettered', {
      topic: config.topic,
      group: config.group,
      deadLetterTopic: config.deadLetterTopic,
      id: wire.headers[Attr.id],
      attempts,
      error: errorMessage(error),
    });
    return this.settle(tracked, (d) => d.ack());
  }

  private async settle(tracked: Tracked, action: (d: Delivery) => Promise<void>): Promise<void> {
    if (tracked.settled) return;
    tracked.settled = true;
    await action(tracked.delivery);
  }
}
