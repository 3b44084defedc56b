import { credentials, status } from '@grpc/grpc-js';
import { v1, type protos } from '@google-cloud/pubsub';
import {
  ClosedError,
  ConfigurationError,
  ConnectionError,
  type Capabilities,
  type ConsumeOptions,
  type Delivery,
  type GroupPolicy,
  type Logger,
  type PublishRequest,
  type Transport,
  type TransportConsumer,
  type TransportContext,
  type TransportFactory,
  ValidationError,
} from '@switchyard/core';
import { PromiseCache, errorMessage, probeHealth, retrying, settleOnce, sleep } from '@switchyard/core/spi';
import { Acker } from './acker.js';
import { PullConsumer } from './consumer.js';
import { grpcCode } from './grpc-code.js';
import { Publisher } from './publisher.js';
import { isReplyTopic, subscriptionId, topicId } from './names.js';
import { parsePubSubUrl, type PubSubSettings } from './options.js';
import { fromPubSub, MAX_ATTRIBUTE_NAME_BYTES, MAX_ATTRIBUTE_VALUE_BYTES, MAX_ATTRIBUTES, MAX_HEADERS, MAX_PAYLOAD_BYTES, toPubSub } from './wire.js';

type ReceivedMessage = protos.google.pubsub.v1.IReceivedMessage;
type DeadLetterPolicy = protos.google.pubsub.v1.IDeadLetterPolicy;

/** Longest ack deadline (and so nack delay) Pub/Sub takes. */
export const MAX_ACK_DEADLINE_SECONDS = 600;
/** Pub/Sub's dead-letter policy takes 5–100 delivery attempts. */
const BACKSTOP_MIN = 5;
const BACKSTOP_MAX = 100;
/** The backstop sits this many deliveries above core's maxAttempts (crash loops core never sees the end of). */
export const BACKSTOP_MARGIN = 10;
/** Ephemeral subscriptions (core's reply groups) left behind by a crashed bus expire after a day unused (Pub/Sub's minimum). */
const EPHEMERAL_TTL_SECONDS = 86_400;
/** At most this many messages per pull request (Pub/Sub's limit). */
export const MAX_PULL_MESSAGES = 1000;
/** Acked messages remembered (per transport) so a redelivery of one is not handed to core again. */
const ACKED_MEMORY = 50_000;
const ACKED_MEMORY_MS = 15 * 60_000;

/** gcppubsub://PROJECT[?options] — see README for the options. */
export const createPubSubTransport: TransportFactory = (url: URL, context: TransportContext) => new PubSubTransport(parsePubSubUrl(url), context.logger);

/** The dead-letter policy that backs core's `policy` up on the broker, or null for none. */
export function backstopOf(policy: GroupPolicy | undefined, deadLetterTopicPath: (topic: string) => string): DeadLetterPolicy | null {
  if (policy === undefined || policy.deadLetterTopic === false || policy.ephemeral) return null;
  const attempts = Math.max(BACKSTOP_MIN, policy.maxAttempts + BACKSTOP_MARGIN);
  if (attempts > BACKSTOP_MAX) return null;
  return { deadLetterTopic: deadLetterTopicPath(policy.deadLetterTopic), maxDeliveryAttempts: attempts };
}

interface GroupState {
  readonly topic: string;
  readonly group: string;
  policy: GroupPolicy | undefined;
  ready: Promise<void>;
}

export class PubSubTransport implements Transport {
  readonly name = 'pubsub';
  readonly telemetry = { system: 'gcp_pubsub' }; // messaging.system, as the OpenTelemetry conventions name it
  readonly capabilities: Capabilities;
  readonly publisherClient: v1.PublisherClient;
  readonly subscriber: v1.SubscriberClient;
  private readonly publisher: Publisher;
  private readonly acker: Acker;
  private readonly topics = new PromiseCache<string, void>();
  private readonly groups = new Map<string, GroupState>();
  private readonly consumers = new Set<PullConsumer>();
  /** `<subscription>\0<message id>@<publish time>` of messages acked here → when. */
  private readonly acked = new Map<string, number>();
  private closed = false;

  constructor(
    readonly settings: PubSubSettings,
    readonly logger: Logger,
  ) {
    const { projectId, emulator } = settings;
    // An emulator speaks plain gRPC and needs no credentials: give the clients insecure channel
    // credentials and a fixed universe, so they never look for application default credentials.
    const target = emulator === undefined ? {} : endpointOf(emulator);
    this.publisherClient = new v1.PublisherClient({ projectId, ...target });
    this.subscriber = new v1.SubscriberClient({ projectId, ...target });
    this.acker = new Acker(this.subscriber);
    this.publisher = new Publisher({
      client: this.publisherClient,
      timeoutMs: settings.publishTimeoutMs,
      topicPath: (topic) => this.topicPath(topic),
      ensureTopic: (topic) => this.ensureTopic(topic),
      redeclare: (topic) => this.redeclare(topic),
      isClosed: () => this.closed,
    });
    const backstop = settings.deadLetterBackstop;
    this.capabilities = {
      // Google Cloud keeps messages; both local emulators hold everything in memory only.
      persistent: emulator === undefined,
      consumerGroups: true,
      fanOut: true,
      ordering: 'perKey',
      // modifyAckDeadline(n) hands a message back after n seconds, up to 600.
      nack: 'delayed',
      maxNackDelayMs: MAX_ACK_DEADLINE_SECONDS * 1000,
      redeliveryOnTimeout: true,
      leaseMs: settings.ackDeadlineSeconds * 1000,
      // deliveryAttempt exists only on subscriptions with a dead-letter policy and is best effort.
      deliveryCount: 'approximate',
      deadLetter: backstop ? 'native' : 'emulated',
      requestReply: 'emulated',
      noResponders: false,
      delay: 'emulated',
      maxNativeDelayMs: 0,
      nativeDedup: false,
      // Concurrent publishes to a topic share Publish requests (see publisher.ts).
      batchPublish: true,
      maxPayloadBytes: MAX_PAYLOAD_BYTES,
      maxHeaders: MAX_HEADERS,
      maxHeaderValueBytes: MAX_ATTRIBUTE_VALUE_BYTES,
      maxHeaderBytes: MAX_ATTRIBUTES * (MAX_ATTRIBUTE_NAME_BYTES + MAX_ATTRIBUTE_VALUE_BYTES),
    };
  }

  topicPath(topic: string): string {
    return `projects/${this.settings.projectId}/topics/${topicId(topic)}`;
  }

  subscriptionPath(topic: string, group: string): string {
    return `projects/${this.settings.projectId}/subscriptions/${subscriptionId(topic, group)}`;
  }

  async connect(): Promise<void> {
    this.assertOpen();
    try {
      await this.publisherClient.listTopics({ project: `projects/${this.settings.projectId}`, pageSize: 1 }, { autoPaginate: false, timeout: this.settings.connectTimeoutMs });
    } catch (err) {
      // Allowed to publish but not to list topics: the service answered, which is all this checks.
      if (grpcCode(err) === status.PERMISSION_DENIED) return;
      throw this.failure(`Cannot reach Pub/Sub (${this.where()})`, err);
    }
  }

  // ---------------------------------------------------------------- publishing

  async publish({ topic, message }: PublishRequest): Promise<void> {
    this.assertOpen();
    const { message: out, bytes } = toPubSub(topic, message);
    try {
      await this.publisher.publish(topic, out, bytes);
    } catch (err) {
      if (grpcCode(err) === status.INVALID_ARGUMENT) {
        throw new ValidationError(`Pub/Sub refused the message for "${topic}": ${errorMessage(err)}. Nothing was sent.`, [], { cause: err });
      }
      throw this.failure(`Publishing to "${topic}" on Pub/Sub failed`, err, 'The message was not confirmed; retry the publish.');
    }
  }

  // ---------------------------------------------------------------- topology

  async declareGroup(topic: string, group: string, policy?: GroupPolicy): Promise<void> {
    this.assertOpen();
    await this.ensureGroup(topic, group, policy);
  }

  /** Create the topic on first use; an existing one is fine. */
  ensureTopic(topic: string): Promise<void> {
    return this.topics.get(topic, () => this.admin(`Creating Pub/Sub topic "${topic}"`, () => this.publisherClient.createTopic({ name: this.topicPath(topic) })));
  }

  /**
   * The group's subscription: created with ordering on, the transport's ack deadline and, from the
   * group policy, a dead-letter backstop. An existing one gets the backstop and ack deadline this
   * declaration asks for (the last declaration wins: Pub/Sub cannot tell whether a subscription
   * still has consumers, so a different policy cannot be refused only while it has).
   */
  ensureGroup(topic: string, group: string, policy?: GroupPolicy): Promise<void> {
    const id = subscriptionId(topic, group);
    const known = this.groups.get(id);
    if (known !== undefined && (policy === undefined || samePolicy(known.policy, policy))) return known.ready;
    const state: GroupState = { topic, group, policy: policy ?? known?.policy, ready: Promise.resolve() };
    state.ready = this.createGroup(state);
    this.groups.set(id, state);
    state.ready.catch(() => this.groups.get(id) === state && this.groups.delete(id));
    return state.ready;
  }

  private async createGroup({ topic, group, policy }: GroupState): Promise<void> {
    await this.ensureTopic(topic);
    const backstop = this.settings.deadLetterBackstop ? backstopOf(policy, (t) => this.topicPath(t)) : null;
    if (backstop !== null && policy?.deadLetterTopic) await this.ensureTopic(policy.deadLetterTopic);
    const name = this.subscriptionPath(topic, group);
    const subscription: protos.google.pubsub.v1.ISubscription = {
      name,
      topic: this.topicPath(topic),
      ackDeadlineSeconds: this.settings.ackDeadlineSeconds,
      enableMessageOrdering: true,
      // Without a TTL a subscription never expires (Google Cloud's default is 31 days unused).
      expirationPolicy: policy?.ephemeral ? { ttl: { seconds: EPHEMERAL_TTL_SECONDS } } : {},
      deadLetterPolicy: backstop,
    };
    const what = `Creating Pub/Sub subscription for group "${group}" on "${topic}"`;
    try {
      await this.subscriber.createSubscription(subscription);
      return;
    } catch (err) {
      if (grpcCode(err) !== status.ALREADY_EXISTS) throw this.failure(what, err);
    }
    if (policy === undefined) return;
    const [existing] = await this.subscriber.getSubscription({ subscription: name }).catch((err: unknown) => {
      throw this.failure(what, err);
    });
    const paths: string[] = [];
    if (!sameBackstop(existing.deadLetterPolicy, backstop)) paths.push('dead_letter_policy');
    if ((existing.ackDeadlineSeconds ?? 0) < this.settings.ackDeadlineSeconds) paths.push('ack_deadline_seconds');
    if (paths.length === 0) return;
    this.logger.info('Updating an existing Pub/Sub subscription to this consumer group policy', { topic, group, fields: paths });
    await this.subscriber
      .updateSubscription({ subscription: { name, deadLetterPolicy: backstop, ackDeadlineSeconds: this.settings.ackDeadlineSeconds }, updateMask: { paths } })
      .catch((err: unknown) => this.logger.warn('Updating a Pub/Sub subscription failed; it keeps its old settings', { topic, group, error: errorMessage(err) }));
  }

  /** Run a create call; ALREADY_EXISTS counts as done. */
  private async admin(what: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      if (grpcCode(err) !== status.ALREADY_EXISTS) throw this.failure(what, err);
    }
  }

  /** The topic (or a group's subscription) is gone: create it again with every group this transport knows for it. */
  async redeclare(topic: string): Promise<void> {
    // Every topic, not only this one: a restarted emulator lost them all (dead-letter topics too).
    this.topics.clear();
    const again: Promise<void>[] = [];
    // A copy: ensureGroup adds the group back while we go.
    for (const [id, state] of [...this.groups]) {
      if (state.topic !== topic) continue;
      this.groups.delete(id);
      again.push(this.ensureGroup(topic, state.group, state.policy));
    }
    await Promise.all([this.ensureTopic(topic), ...again]);
  }

  async deleteGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    this.groups.delete(subscriptionId(topic, group));
    await this.ignoreMissing(`Deleting the Pub/Sub subscription of group "${group}" on "${topic}"`, () =>
      this.subscriber.deleteSubscription({ subscription: this.subscriptionPath(topic, group) }),
    );
    // Core's reply topics are private to one bus: remove the topic too.
    if (!isReplyTopic(topic)) return;
    this.topics.delete(topic);
    await this.ignoreMissing(`Deleting Pub/Sub topic "${topic}"`, () => this.publisherClient.deleteTopic({ topic: this.topicPath(topic) }));
  }

  async exists(topic: string, group?: string): Promise<boolean> {
    this.assertOpen();
    try {
      if (group === undefined) await this.publisherClient.getTopic({ topic: this.topicPath(topic) });
      else await this.subscriber.getSubscription({ subscription: this.subscriptionPath(topic, group) });
      return true;
    } catch (err) {
      if (grpcCode(err) === status.NOT_FOUND) return false;
      throw this.failure(`Looking up "${topic}" on Pub/Sub`, err);
    }
  }

  private async ignoreMissing(what: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      if (grpcCode(err) !== status.NOT_FOUND) throw this.failure(what, err);
    }
  }

  // ---------------------------------------------------------------- consuming

  async consume(topic: string, group: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.assertOpen();
    await this.ensureGroup(topic, group, options.policy);
    const consumer = new PullConsumer(this, topic, group, Math.max(1, options.prefetch), onDelivery);
    this.consumers.add(consumer);
    consumer.start();
    return {
      stop: () => consumer.stop(),
      close: async () => {
        await consumer.close();
        this.consumers.delete(consumer);
      },
    };
  }

  async pull(topic: string, group: string, options: { max: number; waitMs: number; signal?: AbortSignal }): Promise<Delivery[]> {
    this.assertOpen();
    await this.ensureGroup(topic, group);
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      const received = await retrying(() => this.pullOnce(topic, group, Math.min(options.max, MAX_PULL_MESSAGES), deadline - Date.now()), {
        initialDelayMs: 50,
        maxDelayMs: 500,
        attempts: 2,
        retryIf: () => !this.closed && !options.signal?.aborted,
      });
      if (options.signal?.aborted || this.closed) {
        await Promise.all(received.map((r) => this.modAck(topic, group, [r.ackId!], 0).catch(() => undefined)));
        return [];
      }
      const fresh = this.withoutAcked(topic, group, received);
      if (fresh.length > 0 || Date.now() >= deadline) return fresh.map((r) => this.delivery(topic, group, r));
    }
  }

  /**
   * One pull request waiting up to `waitMs` (0: answer at once). A vanished subscription (an
   * emulator restarted) is created again; the caller retries.
   */
  async pullOnce(topic: string, group: string, max: number, waitMs: number): Promise<ReceivedMessage[]> {
    await this.ensureGroup(topic, group);
    const subscription = this.subscriptionPath(topic, group);
    try {
      // Servers answer an idle pull shortly before its deadline (the emulator one second before):
      // a deadline a second past the wait makes the wait what the caller asked for.
      const [response] =
        waitMs <= 0
          ? await this.subscriber.pull({ subscription, maxMessages: max, returnImmediately: true })
          : await this.subscriber.pull({ subscription, maxMessages: max }, { timeout: waitMs + 1000, retry: null });
      return response.receivedMessages ?? [];
    } catch (err) {
      const code = grpcCode(err);
      if (code === status.DEADLINE_EXCEEDED) return [];
      if (code === status.NOT_FOUND && !this.closed) await this.redeclare(topic).catch(() => undefined);
      throw this.failure(`Pulling from "${topic}" (group "${group}") on Pub/Sub failed`, err);
    }
  }

  /**
   * A received message as a core Delivery; `onSettled` runs once, when core settles it (acked, or
   * handed back). `message` is the received message decoded, when the caller already did.
   */
  delivery(topic: string, group: string, received: ReceivedMessage, onSettled?: (acked: boolean) => void, message = fromPubSub(received.message ?? {})): Delivery {
    const ackId = received.ackId!;
    const subscription = this.subscriptionPath(topic, group);
    const leaseMs = this.settings.ackDeadlineSeconds * 1000;
    let leaseEnds = Date.now() + leaseMs;
    const settled = (acked: boolean) => onSettled?.(acked);
    return settleOnce({
      message,
      deliveryCount: Math.max(1, received.deliveryAttempt ?? 0),
      ...(received.message?.messageId ? { brokerId: received.message.messageId } : {}),
      ack: async () => {
        settled(true);
        this.rememberAcked(subscription, received);
        await this.acker.ack(subscription, ackId);
      },
      nack: async ({ delayMs }) => {
        settled(false);
        // Ack deadlines are whole seconds: wait out the part below a second here (the lease has
        // most of its time left: core extends it at a third), then hand it back for the rest.
        const seconds = Math.min(MAX_ACK_DEADLINE_SECONDS, Math.floor(Math.max(0, delayMs) / 1000));
        const rest = Math.max(0, delayMs - seconds * 1000);
        if (rest > 0 && seconds < MAX_ACK_DEADLINE_SECONDS) await sleep(Math.min(rest, 999));
        await this.acker.modifyDeadline(subscription, [ackId], seconds);
      },
      abandon: async () => {
        settled(false);
        await this.acker.modifyDeadline(subscription, [ackId], 0);
      },
      // Past the lease Pub/Sub may have handed the message to someone else: report it lost.
      extend: async (ms) => {
        if (Date.now() >= leaseEnds) return false;
        const seconds = Math.min(MAX_ACK_DEADLINE_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
        await this.acker.modifyDeadline(subscription, [ackId], seconds);
        leaseEnds = Date.now() + seconds * 1000;
        return true;
      },
    });
  }

  /**
   * Drops (and acks again) redeliveries of messages already acked here. Pub/Sub may redeliver a
   * key's later messages, acked ones included, when an earlier one of the key comes back (the emulator
   * does so for messages without a key too, on subscriptions with ordering); at-least-once
   * delivery may also repeat an acked message. A message is known by its id and publish time
   * (emulators number messages from 1 again after a restart).
   */
  withoutAcked(topic: string, group: string, received: ReceivedMessage[]): ReceivedMessage[] {
    const subscription = this.subscriptionPath(topic, group);
    const again = received.filter((r) => this.acked.has(ackedKey(subscription, r)));
    if (again.length === 0) return received;
    for (const r of again) this.acker.ack(subscription, r.ackId!).catch(() => undefined);
    return received.filter((r) => !again.includes(r));
  }

  private rememberAcked(subscription: string, received: ReceivedMessage): void {
    const now = Date.now();
    this.acked.set(ackedKey(subscription, received), now);
    for (const [key, at] of this.acked) {
      if (this.acked.size <= ACKED_MEMORY && now - at < ACKED_MEMORY_MS) break;
      this.acked.delete(key);
    }
  }

  modAck(topic: string, group: string, ackIds: readonly string[], seconds: number): Promise<void> {
    return this.acker.modifyDeadline(this.subscriptionPath(topic, group), ackIds, seconds);
  }

  // ---------------------------------------------------------------- lifecycle

  async health(): Promise<{ ok: boolean; details: Record<string, unknown> }> {
    const details: Record<string, unknown> = {
      project: this.settings.projectId,
      endpoint: this.settings.emulator ?? 'pubsub.googleapis.com',
      emulator: this.settings.emulator !== undefined,
      consumers: this.consumers.size,
    };
    return probeHealth(details, this.closed, () => this.connect());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    this.consumers.clear();
    this.publisher.close();
    this.acker.close();
    await Promise.allSettled([this.publisherClient.close(), this.subscriber.close()]);
  }

  isClosed(): boolean {
    return this.closed;
  }

  where(): string {
    return this.settings.emulator === undefined ? `project ${this.settings.projectId}` : `emulator ${this.settings.emulator}, project ${this.settings.projectId}`;
  }

  failure(what: string, err: unknown, hint = ''): Error {
    if (err instanceof ClosedError || err instanceof ConnectionError || err instanceof ConfigurationError || err instanceof ValidationError) return err;
    if (this.closed) return new ClosedError('pubsub transport');
    const code = grpcCode(err);
    if (code === status.PERMISSION_DENIED || code === status.UNAUTHENTICATED) {
      return new ConfigurationError(`${what}: ${errorMessage(err)}. Check the credentials and IAM roles of this service on ${this.where()}.`, { cause: err });
    }
    return new ConnectionError(`${what} (${this.where()}): ${errorMessage(err)}.${hint ? ` ${hint}` : ''}`, { cause: err });
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('pubsub transport');
  }
}

function endpointOf(emulator: string): Record<string, unknown> {
  const colon = emulator.lastIndexOf(':');
  const host = emulator.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { servicePath: host, port: Number(emulator.slice(colon + 1)), sslCreds: credentials.createInsecure(), universeDomain: 'googleapis.com' };
}

function ackedKey(subscription: string, received: ReceivedMessage): string {
  const time = received.message?.publishTime;
  return `${subscription}\0${received.message?.messageId ?? ''}@${time?.seconds ?? ''}.${time?.nanos ?? ''}`;
}

function samePolicy(a: GroupPolicy | undefined, b: GroupPolicy): boolean {
  return a !== undefined && a.maxAttempts === b.maxAttempts && a.deadLetterTopic === b.deadLetterTopic && a.ephemeral === b.ephemeral;
}

function sameBackstop(a: DeadLetterPolicy | null | undefined, b: DeadLetterPolicy | null): boolean {
  const topicA = a?.deadLetterTopic || undefined;
  if (topicA === undefined || b === null) return topicA === undefined && b === null;
  return topicA === b.deadLetterTopic && a?.maxDeliveryAttempts === b.maxDeliveryAttempts;
}
