/**
 * The adapter SPI: what a transport implements so core can give it Bus semantics.
 * Core owns settlement policy (retry, dead-letter, idempotency, request/reply); a transport
 * only moves bytes and says what it can do natively.
 */
import type { Capabilities, Logger, RetryPolicy } from './types.js';

/**
 * A message as it travels. Immutable once core hands it over: core owns the bytes (it copies a
 * caller's Uint8Array when encoding), so a transport may keep or share it without copying.
 * Its `headers` hold CloudEvents binary-mode attributes in their canonical
 * HTTP-style form (`ce-id`, `ce-type`, ..., `content-type`, `traceparent`) plus user headers;
 * each adapter maps them to its broker's binding (see codec.ts helpers).
 */
export interface WireMessage {
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly key?: string;
}

export interface Delivery {
  readonly message: WireMessage;
  /**
   * 1 on first delivery; grows on each redelivery (nack, crash, timeout) where the broker counts
   * (capabilities.deliveryCount). A broker that keeps no count reports 1 and sets brokerId: core
   * then counts the redeliveries this process sees itself.
   */
  readonly deliveryCount: number;
  /**
   * The broker's own stable identity for this message on its topic, the same on every
   * redelivery and in every group (Kafka: `<partition>:<offset>`; memory: its sequence number).
   * Core derives the id of a message without `ce-id` from it; leave it out where the broker has
   * none (AMQP), and such messages get a fresh id on each delivery.
   */
  readonly brokerId?: string;
  ack(): Promise<void>;
  /** Hand back for redelivery to the same group after delayMs: never when capabilities.nack is 'none', delayMs 0 when 'immediate', at most maxNackDelayMs when 'delayed'. */
  nack(options: { delayMs: number }): Promise<void>;
  /** Leave unsettled: the consumer is going away; the broker will redeliver it to someone. */
  abandon(): Promise<void>;
  /**
   * Lease-based brokers (capabilities.leaseMs): keep this delivery from coming back for `ms` more
   * from now (SQS ChangeMessageVisibility, Pub/Sub modifyAckDeadline, JetStream working()).
   * Resolves false when the lease already ended (settled, or expired and redelivered). Core's
   * lease keeper calls it for every delivery it holds, well before the lease runs out.
   */
  extend?(ms: number): Promise<boolean>;
}

/**
 * How core will treat a group's messages, passed when the group is consumed (and declared for
 * pulls), so a transport can set native backstops above core's own limits: SQS redrive
 * maxReceiveCount, a Pub/Sub dead-letter policy, JetStream MaxDeliver/AckWait, a RabbitMQ
 * delivery limit. Core dead-letters after `maxAttempts` itself; a backstop should sit above it
 * (a crash loop) and never below it. A transport that stores a group's policy on the broker
 * throws ConfigurationError when a different one is declared for the same group (core already
 * does within one bus).
 */
export interface GroupPolicy {
  /** Handler attempts before core dead-letters. */
  readonly maxAttempts: number;
  /** Core's backoff between attempts. */
  readonly retry: RetryPolicy;
  /** Where core dead-letters, or false when the app chose to drop. */
  readonly deadLetterTopic: string | false;
  /** Most handlers core runs at once for this consumer (its prefetch is sized above this). */
  readonly concurrency: number;
  /**
   * The group lives only as long as this consumer (core's reply topics): create it so the
   * broker removes it when the consumer goes away, and remove it in deleteGroup.
   */
  readonly ephemeral: boolean;
}

export interface ConsumeOptions {
  /** Max unsettled deliveries handed to core at once. */
  readonly prefetch: number;
  readonly policy: GroupPolicy;
  /**
   * The group answers requests (bus.reply). A transport with requestDirect() then also takes
   * direct requests for `topic` and hands them to this consumer, with `ce-replyto` naming where
   * that request's reply must go.
   */
  readonly answersRequests?: boolean;
}

export interface TransportConsumer {
  /** Stop handing out new deliveries; outstanding ones can still be settled. */
  stop(): Promise<void>;
  /** Release resources; anything still unsettled goes back to the broker. */
  close(): Promise<void>;
}

export interface Inbox {
  /** Where replies go; opaque to core. */
  readonly address: string;
  close(): Promise<void>;
}

export interface PublishRequest {
  readonly topic: string;
  readonly message: WireMessage;
  readonly delayMs?: number;
}

/**
 * Delayed delivery: with `capabilities.delay === 'native'` core passes `delayMs` to publish().
 * With 'emulated', core stamps a `ce-notbefore` header and, as a fallback, holds a not-yet-due
 * message in its handler slot until due — which blocks the messages behind it when concurrency
 * is 1. A transport with emulated delay should therefore hold such messages itself without
 * counting them against prefetch (the Kafka adapter does).
 */
export interface Transport {
  /** Short name for health/logs: 'memory', 'amqp', 'kafka'... Never contains credentials. */
  readonly name: string;
  /** How spans and metrics name this broker; without it `messaging.system` is `name`. */
  readonly telemetry?: TransportTelemetry;
  readonly capabilities: Capabilities;
  connect(): Promise<void>;
  /** Resolve only once the broker confirmed the write. */
  publish(request: PublishRequest): Promise<void>;
  /**
   * Make sure `group` on `topic` exists so messages published from now on are kept for it even
   * before anyone consumes (used for dead-letter topics and before pulls).
   */
  declareGroup(topic: string, group: string, policy?: GroupPolicy): Promise<void>;
  consume(topic: string, group: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer>;
  /**
   * Optional: remove `group`'s queue/subscription on `topic` (and whatever it still holds) and,
   * where the topic then has no other groups and is private to one bus (core's reply topics,
   * `switchyard.reply.<bus>`), the topic itself — unless deleting topics harms other clients
   * (Kafka: see its README). Core calls it after closing the consumer of its private reply
   * topic, so a process that opens and closes many buses leaves nothing behind. Without it
   * those reply resources stay until the broker expires them.
   */
  deleteGroup?(topic: string, group: string): Promise<void>;
  /**
   * Optional: whether the broker still holds `group` on `topic` (its queue, subscription or
   * consumer group), or without a group, the topic itself. The conformance suite checks through
   * it that a closed bus left no reply resources behind; transports with deleteGroup should have it.
   */
  exists?(topic: string, group?: string): Promise<boolean>;
  /**
   * Wait up to waitMs for at least one message, return up to max. Optional: without it core pulls
   * through a buffering consume() per (topic, group).
   */
  pull?(topic: string, group: string, options: { max: number; waitMs: number; signal?: AbortSignal }): Promise<Delivery[]>;
  /**
   * Native request/reply (optional). Without it core creates a private reply topic per bus.
   * createInbox: a private address whose messages go to onMessage; sendToInbox: deliver there.
   */
  createInbox?(onMessage: (message: WireMessage) => void): Promise<Inbox>;
  sendToInbox?(address: string, message: WireMessage): Promise<void>;
  /**
   * Optional fast path for requests, beside createInbox: hand `message` (a request) straight to a
   * live member of a group answering requests on `topic` (consumed with `answersRequests`),
   * without storing it, and resolve with that member's reply. Resolve undefined when no member
   * is live to take it: core then publishes the request as usual, so a group that is declared but
   * down still gets it when it is back. `waitMs` bounds the transport's own wait; core's request
   * timeout, which ends first, decides what the caller sees.
   */
  requestDirect?(topic: string, message: WireMessage, waitMs: number): Promise<WireMessage | undefined>;
  /**
   * Whether anyone could ever receive a message published to `topic` now (some group exists for
   * it). Required when capabilities.noResponders is true: request() asks it first and fails at
   * once with NoResponderError instead of waiting out its timeout.
   */
  hasResponders?(topic: string): Promise<boolean>;
  health(): Promise<{ ok: boolean; details: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * `system` is `messaging.system` as the OpenTelemetry messaging conventions name the broker
 * (rabbitmq, kafka, gcp_pubsub, aws_sqs; a custom lowercase name where they have none).
 * serverAddress/serverPort: the broker endpoint, where the transport knows one.
 */
export interface TransportTelemetry {
  readonly system: string;
  readonly serverAddress?: string;
  readonly serverPort?: number;
}

export interface TransportContext {
  /** The bus service name (e.g. for client ids). */
  readonly service: string;
  readonly logger: Logger;
  /**
   * Every host[:port] in the URL's authority. WHATWG URLs cannot hold `k1:9092,k2:9092`, so the
   * URL passed to the factory keeps only the first; adapters for clustered brokers read this.
   */
  readonly hosts?: readonly string[];
}

/** What an adapter package exports as `createTransport` for its URL schemes. */
export type TransportFactory = (url: URL, context: TransportContext) => Transport | Promise<Transport>;
