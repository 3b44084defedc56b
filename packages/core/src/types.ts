import type { Contract, EmptyContract, NamedMessage, PublishBody, ResponseBody, TopicName } from './contract.js';
import type { IdempotencyStore } from './idempotency.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/** A received message. `attempt` starts at 1 and grows with each redelivery or retry. */
export interface Message<T = unknown> {
  readonly id: string;
  readonly topic: string;
  readonly body: T;
  readonly key?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly correlationId: string;
  readonly causationId?: string;
  readonly timestamp: Date;
  readonly attempt: number;
  /** Media type the body travelled as (application/json, text/plain, application/octet-stream, ...). */
  readonly contentType: string;
  /** The message's CloudEvents attributes; absent on a message from a plain client (no specversion). */
  readonly cloudEvent?: CloudEventAttributes;
}

/**
 * CloudEvents attributes of a received message, as the producer sent them. `id` is `msg.id`,
 * the correlation and causation extensions are `msg.correlationId` / `msg.causationId`.
 */
export interface CloudEventAttributes {
  readonly specversion: string;
  readonly source: string;
  readonly type: string;
  readonly subject?: string;
  readonly dataschema?: string;
  readonly datacontenttype?: string;
  /** The event time as sent (RFC 3339); `msg.timestamp` is it as a Date. Absent when missing or unreadable. */
  readonly time?: string;
  /** Extension attributes other than Switchyard's own, in their canonical string form (binary mode carries strings). */
  readonly extensions: Readonly<Record<string, string>>;
}

export interface PublishOptions {
  /** Partition/ordering key: messages with one key are processed in order where the broker supports it. */
  key?: string;
  /** User headers (string values). Names starting with ce-, x-switchyard- are reserved. */
  headers?: Record<string, string>;
  /** Message id (CloudEvents id). Default: a random UUID. Reusing an id lets idempotent handlers drop duplicates. */
  id?: string;
  /** Default: the correlation id of the message being handled (via ctx.publish), else the new message id. */
  correlationId?: string;
  /** Id of the message that caused this one. ctx.publish sets it. */
  causationId?: string;
  /** Deliver no earlier than this many milliseconds from now. */
  delayMs?: number;
  /**
   * Send a Uint8Array/string body labelled with this media type instead of the default
   * (application/octet-stream / text/plain). Bytes are sent as they are.
   */
  contentType?: string;
  /** CloudEvents `subject`: what the event is about within its source (e.g. an order id). */
  subject?: string;
  /** CloudEvents `dataschema`: absolute URI of the schema the body follows. */
  dataschema?: string;
  /**
   * CloudEvents extension attributes: names of 1-20 lower-case letters/digits, values strings,
   * booleans or 32-bit integers (sent in their string form). Spec and Switchyard names are refused.
   */
  extensions?: Record<string, string | number | boolean>;
}

export interface PublishResult {
  readonly id: string;
}

export interface RetryPolicy {
  /** Total handler attempts including the first. 1 means no retry. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
}

export interface IdempotencyOptions<T = unknown> {
  store: IdempotencyStore;
  /**
   * The key a message is claimed under. Default: `<group>:<message id>`, so several groups can
   * share one store and each still handles every message once. A function given here is used
   * exactly as given: include the group yourself if groups share the store.
   */
  key?: (msg: Message<T>) => string;
  /** How long a "done" mark is remembered. Default 24 h. */
  ttlMs?: number;
  /** How long a claim blocks other instances if this one dies mid-handler. Default 60 s. */
  leaseMs?: number;
}

export interface SubscribeOptions<T = unknown> {
  /** Competing consumers share a group; every group gets its own copy. Default: the bus `service`. */
  group?: string;
  /** Max handlers in flight for this subscription. Default 1. */
  concurrency?: number;
  /** Retry policy, or false to dead-letter on the first failure. */
  retry?: Partial<RetryPolicy> | false;
  /** Dead-letter topic, or false to drop after the last attempt (logged). Default `deadLetterTopicOf(topic)`: `${topic}.dlq` (shortened for topics over 196 characters). */
  deadLetter?: string | false;
  idempotency?: IdempotencyOptions<T>;
  /**
   * Validates bodies when the bus has no contract for this topic: any Standard Schema (zod 4,
   * valibot, arktype, ...). Without a type argument, msg.body has the schema's output type.
   */
  schema?: StandardSchemaV1<unknown, T>;
  /**
   * Longest a handler may run. Past it `ctx.signal` aborts and the attempt counts as a retryable
   * failure (the handler's promise is abandoned; make it honour the signal). Default: no limit.
   */
  handlerTimeoutMs?: number;
}

export interface PullOptions<T = unknown> {
  group?: string;
  /** Max messages returned. Default 10. */
  max?: number;
  /** How long to wait for the first message. Default 1000 ms; 0 returns at once. */
  waitMs?: number;
  /** A message nacked on its last attempt is dead-lettered instead. Default 5. */
  maxAttempts?: number;
  deadLetter?: string | false;
  /** As subscribe's: validates bodies on topics outside the contract and types them. */
  schema?: StandardSchemaV1<unknown, T>;
}

export interface ReplyOptions<T = unknown> {
  group?: string;
  concurrency?: number;
  /** As subscribe's: validates requests on topics outside the contract and types them. */
  schema?: StandardSchemaV1<unknown, T>;
  /**
   * A duplicate request (same request id) gets the first reply again instead of re-running the
   * handler. Default key: `<group>:<request id>`.
   */
  idempotency?: Omit<IdempotencyOptions<T>, 'key'> & { key?: (msg: Message<T>) => string };
  /** Longest a reply handler may run; past it the requester gets RemoteHandlerError. Default: no limit. */
  handlerTimeoutMs?: number;
}

export interface RequestOptions {
  /** Default 5000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  key?: string;
  id?: string;
  correlationId?: string;
}

export interface CloseOptions {
  /**
   * Wait at most this long for in-flight handlers; after it their signals abort and their
   * messages are left unsettled, so the broker redelivers them. Default: wait for ever.
   */
  drainTimeoutMs?: number;
}

export interface Subscription {
  readonly topic: string;
  readonly group: string;
  /** Stop fetching, wait for in-flight handlers, settle them. */
  close(options?: CloseOptions): Promise<void>;
}

export interface PulledMessage<T = unknown> extends Message<T> {
  ack(): Promise<void>;
  /** Give it back for redelivery (after delayMs). On its last attempt it is dead-lettered instead. */
  nack(options?: { delayMs?: number; reason?: string }): Promise<void>;
}

/**
 * What a handler gets besides the message. On a bus with a contract C, `publish` and `request` are
 * typed like the bus's own: contract topics take their schema's input (and a closed contract
 * takes no other topics).
 */
export interface HandlerContext<C extends Contract = EmptyContract> {
  /** Aborted when the subscription closes past its drain timeout. */
  readonly signal: AbortSignal;
  readonly attempt: number;
  /** Publish with this message's correlation id, causation id and trace context. */
  publish<K extends TopicName<C>>(topic: K, body: PublishBody<C, K>, options?: PublishOptions): Promise<PublishResult>;
  /** Request with this message's correlation id and trace context. */
  request<K extends TopicName<C>>(topic: K, body: PublishBody<C, K>, options?: RequestOptions): Promise<ResponseBody<C, K>>;
  /** On a bus without a contract, name the request and response types (see Bus.request<Req, Res>). */
  request<Req, Res>(topic: TopicName<C>, body: NamedMessage<C, Req>, options?: RequestOptions): Promise<NamedMessage<C, Res>>;
  /**
   * With `idempotency`: the claim this handler runs under. A store that can write its done mark
   * inside the handler's own transaction (e.g. the PostgreSQL store's completeIn) takes these,
   * so the side effect and the mark commit together.
   */
  readonly idempotency?: IdempotencyClaim;
}

export interface IdempotencyClaim {
  readonly key: string;
  readonly token: string;
}

export type Handler<T = unknown, C extends Contract = EmptyContract> = (msg: Message<T>, ctx: HandlerContext<C>) => unknown | Promise<unknown>;
export type ReplyHandler<T = unknown, R = unknown, C extends Contract = EmptyContract> = (msg: Message<T>, ctx: HandlerContext<C>) => R | Promise<R>;

/**
 * What the broker does natively; core fills every gap. Each field says who acts on it.
 * See packages/core/README.md ("writing an adapter") for how to declare them honestly.
 */
export interface Capabilities {
  /** Messages survive a broker restart. Conformance: lifecycle.broker-restart runs only when true. */
  readonly persistent: boolean;
  /** Several groups can consume one topic independently. False: subscribing with a group other than the service's is a CapabilityError. */
  readonly consumerGroups: boolean;
  /** Every group gets every message. False: a second group on one topic is a CapabilityError. */
  readonly fanOut: boolean;
  /** 'perKey': messages with one key are handed over in publish order (core keeps them in order). */
  readonly ordering: 'none' | 'perKey';
  /**
   * How the broker takes a message back for redelivery. 'none': core retries in place, holding
   * the delivery. 'immediate': the broker redelivers at once, so core waits out the backoff
   * holding the delivery, then nacks with delayMs 0. 'delayed': the broker redelivers after
   * nack({ delayMs }) up to maxNackDelayMs; core waits in place for any longer remainder first.
   */
  readonly nack: 'none' | 'immediate' | 'delayed';
  /** With nack 'delayed': the longest delay the broker honours (ms). 0 otherwise. */
  readonly maxNackDelayMs: number;
  /** Unsettled deliveries come back after a lease (leaseMs) runs out. Core requires leaseMs exactly when this is true. */
  readonly redeliveryOnTimeout: boolean;
  /**
   * Whether Delivery.deliveryCount counts deliveries. 'exact': the broker's count, kept across
   * consumer crashes, is `attempt`. 'approximate': the broker's count may lag (SQS, Pub/Sub);
   * core takes the larger of it and its own count. 'absent': core counts the redeliveries this
   * process sees (by Delivery.brokerId), starting over after a restart.
   */
  readonly deliveryCount: 'exact' | 'approximate' | 'absent';
  /**
   * 'native': given GroupPolicy.deadLetterTopic and maxAttempts, the broker itself moves a message
   * delivered more often than that (a backstop for crash loops core never sees the end of).
   * Core dead-letters with its headers either way.
   */
  readonly deadLetter: 'native' | 'emulated';
  /** 'native': core uses Transport.createInbox/sendToInbox; else a private reply topic per bus. */
  readonly requestReply: 'native' | 'emulated';
  /**
   * Lease-based brokers: an unsettled delivery comes back after this many ms unless extended
   * (Delivery.extend). Core extends everything it holds at a third of this. Absent: deliveries are
   * held until settled or the consumer goes away.
   */
  readonly leaseMs?: number;
  /** The broker can tell that nobody serves a topic: request() then fails at once with NoResponderError. */
  readonly noResponders: boolean;
  /** 'native': publish() takes delayMs (up to maxNativeDelayMs). 'emulated': core stamps `ce-notbefore` and holds or republishes. */
  readonly delay: 'native' | 'emulated';
  /** With delay 'native': the longest delay the broker takes (ms); core splits longer ones. 0 otherwise. */
  readonly maxNativeDelayMs: number;
  /** The broker drops a second publish with the same message id (within its window). Conformance: delivery.native-dedup. */
  readonly nativeDedup: boolean;
  /** The adapter groups concurrent publishes into broker batch writes (throughput; see `npm run bench`). */
  readonly batchPublish: boolean;
  /**
   * Largest message core accepts for publishing (body + header names and values + key). The
   * transport accepts dead-letter copies up to DEAD_LETTER_HEADROOM_BYTES more (see spi.ts).
   */
  readonly maxPayloadBytes: number;
  readonly maxHeaders: number;
  /** Largest single header value, in UTF-8 bytes. Core also applies its portable limit (the smaller wins). */
  readonly maxHeaderValueBytes: number;
  /** Largest total of header names + values + key, in UTF-8 bytes. Core also applies its portable limit. */
  readonly maxHeaderBytes: number;
}

export interface Health {
  readonly ok: boolean;
  readonly transport: string;
  readonly details: Record<string, unknown>;
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
