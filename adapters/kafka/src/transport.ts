import { ClosedError, ConnectionError, PayloadTooLargeError } from '@switchyard/core';
import type { Capabilities, ConsumeOptions, Delivery, GroupPolicy, Logger } from '@switchyard/core';
import type { PublishRequest, Transport, TransportConsumer, TransportContext, TransportFactory } from '@switchyard/core';
import { DEAD_LETTER_HEADROOM_BYTES, errorMessage, PromiseCache, probeHealth, retrying, scrubSecrets, wireSize, type RetryingOptions } from '@switchyard/core/spi';
import { Kafka, logLevel, Partitioners, type Admin, type KafkaMessage, type SASLOptions } from 'kafkajs';
import { EPHEMERAL_COMMIT_DELAY_MS, GroupConsumer } from './consumer.js';
import { kafkaLogCreator } from './logging.js';
import { parseKafkaUrl, type KafkaSettings } from './options.js';
import { Publisher } from './publisher.js';
import { INBOX_HEADER, isInbox, isReplyTo, physicalTopic, REPLIES_TOPIC, REPLIES_TOPIC_CONFIG } from './replies.js';
import { isInvalidTopic, topicCollisionError } from './topics.js';
import { toKafkaMessage } from './wire.js';

/** Kafka consumer group id for a Switchyard (topic, group): `<group>:<topic>`. ':' never occurs in portable names, so ids never collide. */
export function kafkaGroupId(topic: string, group: string): string {
  return `${group}:${topic}`;
}

/** Largest body + headers + key accepted: under the broker default message.max.bytes (1,048,588) with room for record overhead. */
export const MAX_PAYLOAD_BYTES = 1_000_000;

/** kafka://host:port[?options] — see README for the options. */
export const createKafkaTransport: TransportFactory = (url: URL, context: TransportContext) => {
  const settings = parseKafkaUrl(url, context.service, context.hosts);
  return new KafkaTransport(settings, context.logger);
};

type Offset = { partition: number; offset: string };
type OffsetCommit = { groupId: string; groupGenerationId: number; memberId: string; retentionTime: number; topics: { topic: string; partitions: Offset[] }[] };

/** kafkajs internals behind its private createCluster, for an OffsetCommit outside any group generation. */
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  findGroupCoordinator(request: { groupId: string }): Promise<{ offsetCommit(request: OffsetCommit): Promise<unknown> }>;
}

/** kafkajs's own retries of a request (connection drops, leader moves). */
const KAFKAJS_RETRY = { initialRetryTime: 100, maxRetryTime: 2000, retries: 6 };

/** OffsetCommit answers meaning the group has live members: it keeps its own offsets. */
const GROUP_ACTIVE = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS']);

export class KafkaTransport implements Transport {
  readonly name = 'kafka';
  readonly telemetry = { system: 'kafka' }; // messaging.system, as the OpenTelemetry conventions name it
  readonly capabilities: Capabilities = {
    persistent: true,
    consumerGroups: true,
    fanOut: true,
    ordering: 'perKey',
    // A partition is a log: nothing is taken back. Core retries in place and counts deliveries itself.
    nack: 'none',
    maxNackDelayMs: 0,
    redeliveryOnTimeout: false,
    deliveryCount: 'absent',
    deadLetter: 'emulated',
    requestReply: 'emulated',
    noResponders: false,
    delay: 'emulated',
    maxNativeDelayMs: 0,
    nativeDedup: false,
    // Publishes arriving while a produce request is in flight go out together (publisher.ts).
    batchPublish: true,
    maxPayloadBytes: MAX_PAYLOAD_BYTES,
    maxHeaders: 64,
    // Headers travel inside the record and count against message.max.bytes with the body.
    maxHeaderValueBytes: 65_536,
    maxHeaderBytes: 65_536,
  };

  private readonly kafka: Kafka;
  private readonly admin = new PromiseCache<'admin', Admin>();
  private readonly offsetsCluster = new PromiseCache<'cluster', InternalCluster | undefined>();
  private readonly publisher: Publisher;
  /**
   * Replies go out on an idempotent producer of their own (connected on the first reply). A
   * producer has one produce request in flight, so on the shared one a reply would wait behind
   * an event batch in flight — or behind the very request it answers while the broker has not
   * yet acknowledged it (the responder often reads a request before its producer's ack arrives,
   * when requester and responder share a process). Order among replies still holds: they all go
   * through this one.
   */
  private readonly replyPublisher: Publisher;
  /** Topics created (or found) by this transport; groups whose start offsets are set, by `<group id>\0<topic>`. */
  private readonly topics = new PromiseCache<string, void>();
  /** Topics whose ensureTopic has succeeded (publish skips awaiting it). */
  private readonly readyTopics = new Set<string>();
  private readonly groups = new PromiseCache<string, void>();
  private readonly consumers = new Set<GroupConsumer>();
  /** Aborted on close: retries in flight give up. */
  private readonly lifetime = new AbortController();

  constructor(
    private readonly settings: KafkaSettings,
    private readonly logger: Logger,
  ) {
    const { clientId, brokers, ssl, connectionTimeout, requestTimeout, sasl } = settings;
    const logCreator = kafkaLogCreator(logger, sasl ? [sasl.password] : []);
    const auth = sasl ? { sasl: sasl as SASLOptions } : {};
    this.kafka = new Kafka({ clientId, brokers, ssl, connectionTimeout, requestTimeout, retry: KAFKAJS_RETRY, logLevel: logLevel.INFO, logCreator, ...auth });
    const producer = () => {
      this.assertOpen();
      const createPartitioner = Partitioners.DefaultPartitioner;
      return connected(this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner, retry: KAFKAJS_RETRY }));
    };
    this.publisher = new Publisher(producer, settings.maxBatchBytes, settings.requestTimeout, logger);
    this.replyPublisher = new Publisher(producer, settings.maxBatchBytes, settings.requestTimeout, logger);
  }

  private get closed(): boolean {
    return this.lifetime.signal.aborted;
  }

  async connect(): Promise<void> {
    this.assertOpen();
    try {
      await this.getAdmin();
      await this.publisher.connect();
    } catch (err) {
      throw this.connectionError(`Cannot connect to Kafka at ${this.settings.brokers.join(',')}`, err);
    }
  }

  async publish({ topic, message }: PublishRequest): Promise<void> {
    this.assertOpen();
    const physical = physicalTopic(topic);
    // A topic known to exist is not awaited again: one await less on every publish.
    if (!this.readyTopics.has(physical)) await this.ensureTopic(physical);
    const size = wireSize(message);
    // A reply: to the shared replies topic, marked with the inbox it is for (replies.ts).
    const reply = physical !== topic;
    const record = toKafkaMessage(message, reply ? { [INBOX_HEADER]: topic } : undefined);
    try {
      if (reply) await this.replyPublisher.send(physical, record, size + 64 + topic.length + INBOX_HEADER.length);
      else await this.publisher.send(physical, record, size + 64);
    } catch (err) {
      // The broker refuses this record for its size: the same publish can never succeed. (Records
      // this large travel alone in their produce request, so the error is about this one.)
      if (isTooLarge(err) && size > MAX_PAYLOAD_BYTES) throw new PayloadTooLargeError(topic, size, MAX_PAYLOAD_BYTES + DEAD_LETTER_HEADROOM_BYTES, 'kafka');
      throw this.connectionError(`Publishing to "${topic}" on Kafka failed`, err, 'The message was not confirmed; retry the publish.');
    }
  }

  /** Kafka stores no group policy (README, "Group policies"): nothing to set or compare. */
  async declareGroup(topic: string, group: string, _policy?: GroupPolicy): Promise<void> {
    this.assertOpen();
    const physical = physicalTopic(topic);
    await this.ensureTopic(physical);
    await this.ensureGroup(physical, kafkaGroupId(topic, group));
  }

  async consume(topic: string, group: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.assertOpen();
    await this.declareGroup(topic, group, options.policy);
    const { kafka, settings, logger } = this;
    const accept = isInbox(topic) ? (message: KafkaMessage) => isReplyTo(message, topic) : undefined;
    const groupId = kafkaGroupId(topic, group);
    const commitDelayMs = options.policy.ephemeral ? EPHEMERAL_COMMIT_DELAY_MS : 0;
    const consumer = new GroupConsumer({ kafka, settings, logger, topic: physicalTopic(topic), group, groupId, prefetch: options.prefetch, onDelivery, accept, commitDelayMs });
    this.consumers.add(consumer);
    await consumer.start().catch((err: unknown) => {
      this.consumers.delete(consumer);
      throw err;
    });
    if (this.closed) {
      await consumer.close();
      throw new ClosedError('kafka transport');
    }
    return {
      stop: () => consumer.stop(),
      close: async () => {
        await consumer.close();
        this.consumers.delete(consumer);
      },
    };
  }

  /**
   * Delete the consumer group with its committed offsets. A reply topic is then gone entirely: it
   * lives in the shared replies topic only as its group (replies.ts). Other topics stay (their
   * other groups, and other clients' metadata, need them).
   */
  async deleteGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    const groupId = kafkaGroupId(topic, group);
    this.groups.delete(`${groupId}\0${physicalTopic(topic)}`);
    await (await this.getAdmin()).deleteGroups([groupId]).catch((err: unknown) => {
      // Already gone (never committed, or expired) is what we want.
      const failures = (err as { groups?: { error?: { type?: string } }[] }).groups ?? [];
      if (failures.length === 0 || failures.some((f) => f.error?.type !== 'GROUP_ID_NOT_FOUND')) {
        throw this.connectionError(`Deleting Kafka consumer group "${groupId}" failed`, err, 'A group with live members cannot be deleted; close them first.');
      }
    });
  }

  /** The group's Kafka consumer group; without a group, the topic (a reply topic: while any group reads it). */
  async exists(topic: string, group?: string): Promise<boolean> {
    this.assertOpen();
    const admin = await this.getAdmin();
    try {
      if (group !== undefined) {
        const { groups } = await admin.describeGroups([kafkaGroupId(topic, group)]);
        return groups.some((g) => g.state !== 'Dead');
      }
      if (isInbox(topic)) return (await admin.listGroups()).groups.some((g) => g.groupId.endsWith(`:${topic}`));
      return (await admin.listTopics()).includes(topic);
    } catch (err) {
      if ((err as { type?: string }).type === 'GROUP_ID_NOT_FOUND') return false;
      throw this.connectionError(`Looking up "${topic}" on Kafka failed`, err);
    }
  }

  async health(): Promise<{ ok: boolean; details: Record<string, unknown> }> {
    const details: Record<string, unknown> = { brokers: this.settings.brokers, clientId: this.settings.clientId, consumers: this.consumers.size };
    return probeHealth(
      details,
      this.closed,
      async () => {
        const cluster = await (await this.getAdmin()).describeCluster();
        return { clusterId: cluster.clusterId, nodes: cluster.brokers.length, controller: cluster.controller };
      },
      (text) => this.scrub(text),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.lifetime.abort();
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    this.consumers.clear();
    await Promise.all([this.publisher.close(), this.replyPublisher.close()]).catch(() => undefined);
    const clients: Promise<{ disconnect(): Promise<void> } | undefined>[] = [...this.admin.clear(), ...this.offsetsCluster.clear()];
    await Promise.all(clients.map((client) => client.then((c) => c?.disconnect()).catch(() => undefined)));
  }

  /** Create the topic on first use (partitions from the URL); an existing topic is fine. */
  private ensureTopic(topic: string): Promise<void> {
    return this.topics.get(topic, async () => {
      const admin = await this.getAdmin();
      const { partitions: numPartitions, replicationFactor } = this.settings;
      const configEntries = topic === REPLIES_TOPIC ? REPLIES_TOPIC_CONFIG : [];
      try {
        // kafkajs's own waitForLeaders trips over UNKNOWN_TOPIC_OR_PARTITION on KRaft brokers; wait below instead.
        await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions, replicationFactor, configEntries }] });
      } catch (err) {
        // A portable name Kafka calls invalid collides with an existing topic ('.' vs '_').
        if (isInvalidTopic(err)) throw await topicCollisionError(admin, topic, err, (text) => this.scrub(text));
        if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw this.connectionError(`Creating Kafka topic "${topic}" failed`, err);
      }
      // Until every partition has a leader (a new topic takes a moment to appear everywhere).
      const leaders = async () => {
        const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
        if (!metadata?.partitions.length || metadata.partitions.some((p) => p.leader < 0)) throw new Error('timed out waiting for partition leaders');
      };
      await this.retry(leaders, { initialDelayMs: 50, maxDelayMs: 500, deadlineMs: 30_000 }).catch((err: unknown) => {
        throw this.connectionError(`Kafka topic "${topic}" has no leader yet`, err);
      });
      this.readyTopics.add(topic);
    });
  }

  /**
   * A group with no committed offset for a partition starts there at the partition's end offset
   * as of now (committed as a "simple consumer" commit while the group has no members), so what is
   * published from now on is kept for the group, and older history is not replayed.
   */
  private ensureGroup(topic: string, groupId: string): Promise<void> {
    // Coordinator moves and loads (a fresh or restarting broker), and kafkajs's own races (e.g.
    // fetchTopicOffsets on metadata refreshed concurrently), are retriable: try for a while.
    const init = () => this.retry(() => this.initGroupOffsets(topic, groupId), { initialDelayMs: 200, maxDelayMs: 2000, attempts: 12 });
    return this.groups.get(`${groupId}\0${topic}`, init);
  }

  private async initGroupOffsets(topic: string, groupId: string): Promise<void> {
    const admin = await this.getAdmin();
    try {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const missing = new Set((committed?.partitions ?? []).filter((p) => Number(p.offset) < 0).map((p) => p.partition));
      if (missing.size === 0) return;
      const ends = await admin.fetchTopicOffsets(topic);
      const partitions = ends.filter((e) => missing.has(e.partition)).map((e) => ({ partition: e.partition, offset: e.high ?? e.offset }));
      await this.commitAsSimpleConsumer(groupId, topic, partitions);
    } catch (err) {
      throw this.connectionError(`Preparing Kafka consumer group "${groupId}" on "${topic}" failed`, err);
    }
  }

  private async commitAsSimpleConsumer(groupId: string, topic: string, partitions: Offset[]): Promise<void> {
    const cluster = await this.getOffsetsCluster();
    const active = (err: unknown) => this.logger.debug('Group already active; it keeps its own offsets', { groupId, error: errorMessage(err) });
    if (cluster === undefined) {
      // Public-API fallback (joins the group briefly; slower).
      await (await this.getAdmin()).setOffsets({ groupId, topic, partitions }).catch(active);
      return;
    }
    const commit = async () => {
      const coordinator = await cluster.findGroupCoordinator({ groupId });
      await coordinator.offsetCommit({ groupId, groupGenerationId: -1, memberId: '', retentionTime: -1, topics: [{ topic, partitions }] }).catch((err: unknown) => {
        // Members are active: the group already started and keeps its own offsets.
        if (!GROUP_ACTIVE.has(kafkaErrorType(err))) throw err;
        active(err);
      });
    };
    // A coordinator that moved is looked up again.
    const refresh = (err: unknown) => (kafkaErrorType(err).startsWith('NOT_COORDINATOR') ? cluster.refreshMetadata().catch(() => undefined) : undefined);
    await this.retry(commit, { initialDelayMs: 100, maxDelayMs: 1000, attempts: 6, onRetry: refresh });
  }

  /** core's retrying, giving up when the transport closes or kafkajs calls the error not retriable. */
  private retry<T>(operation: () => Promise<T>, options: Omit<RetryingOptions, 'signal' | 'retryIf'>): Promise<T> {
    return retrying(operation, { ...options, signal: this.lifetime.signal, retryIf: (err) => !isFatal(err) });
  }

  /** kafkajs's internal cluster (for an OffsetCommit outside a group generation); undefined if this kafkajs build hides it. */
  private getOffsetsCluster(): Promise<InternalCluster | undefined> {
    return this.offsetsCluster.get('cluster', async () => {
      const symbol = Object.getOwnPropertySymbols(this.kafka).find((s) => s.description === 'private:Kafka:createCluster');
      const create = symbol === undefined ? undefined : (this.kafka as unknown as Record<symbol, unknown>)[symbol];
      this.assertOpen();
      return typeof create === 'function' ? connected((create as (o: object) => InternalCluster)({ allowAutoTopicCreation: false })) : undefined;
    });
  }

  private getAdmin(): Promise<Admin> {
    return this.admin.get('admin', () => {
      this.assertOpen();
      return connected(this.kafka.admin({ retry: KAFKAJS_RETRY }));
    });
  }

  private scrub(text: string): string {
    return scrubSecrets(text, [this.settings.sasl?.password]);
  }

  private connectionError(what: string, err: unknown, hint = ''): Error {
    if (err instanceof ClosedError || err instanceof ConnectionError) return err;
    return new ConnectionError(`${what}: ${this.scrub(errorMessage(err))}.${hint ? ` ${hint}` : ''}`, { cause: err });
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('kafka transport');
  }
}

/** Connect a kafkajs client; on failure disconnect it (it keeps sockets and timers otherwise) and throw. */
async function connected<T extends { connect(): Promise<void>; disconnect(): Promise<void> }>(client: T): Promise<T> {
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.disconnect().catch(() => undefined);
    throw err;
  }
}

function kafkaErrorType(err: unknown): string {
  return (err as { type?: string } | undefined)?.type ?? '';
}

/** kafkajs marks errors waiting will not heal (also when wrapped in a ConnectionError's cause). */
function isFatal(err: unknown): boolean {
  const e = err as { retriable?: boolean; cause?: { retriable?: boolean } } | undefined;
  return e?.retriable === false || e?.cause?.retriable === false || err instanceof ClosedError;
}

/** kafkajs reports a record over message.max.bytes as MESSAGE_TOO_LARGE (or RECORD_LIST_TOO_LARGE), possibly wrapped. */
function isTooLarge(err: unknown): boolean {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE') return true;
  }
  return false;
}
