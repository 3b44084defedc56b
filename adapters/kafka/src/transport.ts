import {
  ClosedError,
  ConnectionError,
  PayloadTooLargeError,
  type Capabilities,
  type Delivery,
  type Logger,
  type PublishRequest,
  type Transport,
  type TransportConsumer,
  type TransportContext,
  type TransportFactory,
} from '@switchyard/core';
import { DEAD_LETTER_HEADROOM_BYTES, errorMessage, scrubSecrets, sleep, wireSize } from '@switchyard/core/spi';
import { Kafka, logLevel, type Admin, type SASLOptions } from 'kafkajs';
import { GroupConsumer } from './consumer.js';
import { kafkaLogCreator } from './logging.js';
import { parseKafkaUrl, type KafkaSettings } from './options.js';
import { Publisher } from './publisher.js';
import { isInvalidTopic, topicCollisionError } from './topics.js';
import { toKafkaMessage } from './wire.js';

/** Kafka consumer group id for a Switchyard (topic, group): `<group>:<topic>`. ':' never occurs in portable names, so ids never collide. */
export function kafkaGroupId(topic: string, group: string): string {
  return `${group}:${topic}`;
}

/** Core's emulated request/reply inboxes: one private topic per bus; one partition is plenty. */
const REPLY_TOPIC_PREFIX = 'switchyard.reply.';

/** Largest body + headers + key accepted: under the broker default message.max.bytes (1,048,588) with room for record overhead. */
export const MAX_PAYLOAD_BYTES = 1_000_000;

/** kafka://host:port[?options] — see README for the options. */
export const createKafkaTransport: TransportFactory = (url: URL, context: TransportContext) => {
  const settings = parseKafkaUrl(url, context.service, context.hosts);
  return new KafkaTransport(settings, context.logger);
};

interface InternalBroker {
  offsetCommit(request: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    retentionTime: number;
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
  }): Promise<unknown>;
}

interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(request: { groupId: string }): Promise<InternalBroker>;
  refreshMetadata(): Promise<void>;
}

export class KafkaTransport implements Transport {
  readonly name = 'kafka';
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
  private admin: Admin | undefined;
  private adminConnecting: Promise<Admin> | undefined;
  private offsetsCluster: Promise<InternalCluster | undefined> | undefined;
  private readonly publisher: Publisher;
  private readonly topics = new Map<string, Promise<void>>();
  private readonly groups = new Map<string, Promise<void>>();
  private readonly consumers = new Set<GroupConsumer>();
  private closed = false;

  constructor(
    private readonly settings: KafkaSettings,
    private readonly logger: Logger,
  ) {
    const secrets = settings.sasl ? [settings.sasl.password] : [];
    this.kafka = new Kafka({
      clientId: settings.clientId,
      brokers: settings.brokers,
      ssl: settings.ssl,
      ...(settings.sasl ? { sasl: settings.sasl as SASLOptions } : {}),
      connectionTimeout: settings.connectionTimeout,
      requestTimeout: settings.requestTimeout,
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 6 },
      logLevel: logLevel.INFO,
      logCreator: kafkaLogCreator(logger, secrets),
    });
    this.publisher = new Publisher(this.kafka, settings.maxBatchBytes, settings.requestTimeout, logger);
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
    await this.ensureTopic(topic);
    try {
      await this.publisher.send(topic, toKafkaMessage(message), wireSize(message) + 64);
    } catch (err) {
      // The broker refuses this record for its size: the same publish can never succeed. (Records
      // this large travel alone in their produce request, so the error is about this one.)
      if (isTooLarge(err) && wireSize(message) > MAX_PAYLOAD_BYTES)
        throw new PayloadTooLargeError(topic, wireSize(message), MAX_PAYLOAD_BYTES + DEAD_LETTER_HEADROOM_BYTES, 'kafka');
      throw this.connectionError(`Publishing to "${topic}" on Kafka failed`, err, 'The message was not confirmed; retry the publish.');
    }
  }

  async declareGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    await this.ensureTopic(topic);
    await this.ensureGroup(topic, kafkaGroupId(topic, group));
  }

  async consume(topic: string, group: string, options: { prefetch: number }, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.assertOpen();
    await this.declareGroup(topic, group);
    const consumer = this.groupConsumer(topic, group, options.prefetch, onDelivery);
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (err) {
      this.consumers.delete(consumer);
      throw err;
    }
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
   * Delete the consumer group (with its committed offsets). The topic stays, even a private reply
   * topic: kafkajs keeps every topic it produced to in its metadata and, once one is deleted,
   * fails every later metadata refresh (kafkajs issues #1146, #1622) — each service that replied
   * to this bus would then lose a publish batch after a ~6 s stall. See the README's caveats.
   */
  async deleteGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    const groupId = kafkaGroupId(topic, group);
    this.groups.delete(`${groupId}\0${topic}`);
    const admin = await this.getAdmin();
    try {
      await admin.deleteGroups([groupId]);
    } catch (err) {
      // Already gone (never committed, or expired) is what we want.
      const failures = (err as { groups?: { error?: { type?: string } }[] }).groups ?? [];
      if (failures.length === 0 || failures.some((f) => f.error?.type !== 'GROUP_ID_NOT_FOUND')) {
        throw this.connectionError(`Deleting Kafka consumer group "${groupId}" failed`, err, 'A group with live members cannot be deleted; close them first.');
      }
    }
  }

  private groupConsumer(topic: string, group: string, prefetch: number, onDelivery: (delivery: Delivery) => void): GroupConsumer {
    const { kafka, settings, logger } = this;
    return new GroupConsumer({ kafka, settings, logger, topic, group, groupId: kafkaGroupId(topic, group), prefetch, onDelivery });
  }

  async health(): Promise<{ ok: boolean; details: Record<string, unknown> }> {
    const details: Record<string, unknown> = {
      brokers: this.settings.brokers,
      clientId: this.settings.clientId,
      consumers: this.consumers.size,
    };
    if (this.closed) return { ok: false, details: { ...details, state: 'closed' } };
    try {
      const admin = await this.getAdmin();
      const cluster = await admin.describeCluster();
      return { ok: true, details: { ...details, clusterId: cluster.clusterId, nodes: cluster.brokers.length, controller: cluster.controller } };
    } catch (err) {
      return { ok: false, details: { ...details, error: this.scrub(errorMessage(err)) } };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    this.consumers.clear();
    await this.publisher.close().catch(() => undefined);
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
    const cluster = await this.offsetsCluster?.catch(() => undefined);
    await cluster?.disconnect().catch(() => undefined);
  }

  /** Create the topic on first use (partitions from the URL); an existing topic is fine. */
  private ensureTopic(topic: string): Promise<void> {
    let pending = this.topics.get(topic);
    if (!pending) {
      pending = (async () => {
        const admin = await this.getAdmin();
        try {
          // kafkajs's own waitForLeaders trips over UNKNOWN_TOPIC_OR_PARTITION on KRaft brokers; wait below instead.
          await admin.createTopics({
            waitForLeaders: false,
            topics: [{ topic, numPartitions: topic.startsWith(REPLY_TOPIC_PREFIX) ? 1 : this.settings.partitions, replicationFactor: this.settings.replicationFactor }],
          });
        } catch (err) {
          // A portable name Kafka calls invalid collides with an existing topic ('.' vs '_').
          if (isInvalidTopic(err)) throw await topicCollisionError(admin, topic, err, (text) => this.scrub(text));
          if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw this.connectionError(`Creating Kafka topic "${topic}" failed`, err);
        }
        await this.waitForLeaders(admin, topic);
      })();
      this.topics.set(topic, pending);
      pending.catch(() => this.topics.delete(topic));
    }
    return pending;
  }

  /** Until every partition of the topic has a leader (a new topic takes a moment to appear everywhere). */
  private async waitForLeaders(admin: Admin, topic: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    let lastError: unknown;
    for (let attempt = 0; Date.now() < deadline && !this.closed; attempt++) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
      } catch (err) {
        lastError = err;
        if ((err as { retriable?: boolean }).retriable === false) break;
      }
      await sleep(Math.min(50 * 2 ** attempt, 500));
    }
    throw this.connectionError(`Kafka topic "${topic}" has no leader yet`, lastError ?? new Error('timed out waiting for partition leaders'));
  }

  /**
   * A group with no committed offset for a partition starts there at the partition's end offset
   * as of now (committed as a "simple consumer" commit while the group has no members), so what is
   * published from now on is kept for the group, and older history is not replayed.
   */
  private ensureGroup(topic: string, groupId: string): Promise<void> {
    const cacheKey = `${groupId}\0${topic}`;
    let pending = this.groups.get(cacheKey);
    if (!pending) {
      pending = this.initGroupOffsets(topic, groupId);
      this.groups.set(cacheKey, pending);
      pending.catch(() => this.groups.delete(cacheKey));
    }
    return pending;
  }

  private async initGroupOffsets(topic: string, groupId: string): Promise<void> {
    // Coordinator moves and loads (a fresh or restarting broker) are retriable: try for a while.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.initGroupOffsetsOnce(topic, groupId);
        return;
      } catch (err) {
        // Also kafkajs's own races (e.g. fetchTopicOffsets on metadata refreshed concurrently): try again.
        const cause = (err as { cause?: { retriable?: boolean } }).cause;
        if (attempt >= 12 || cause?.retriable === false || this.closed) throw err;
        await sleep(Math.min(100 * 2 ** attempt, 2000));
      }
    }
  }

  private async initGroupOffsetsOnce(topic: string, groupId: string): Promise<void> {
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

  private async commitAsSimpleConsumer(groupId: string, topic: string, partitions: { partition: number; offset: string }[]): Promise<void> {
    const cluster = await this.getOffsetsCluster();
    if (cluster === undefined) {
      // Public-API fallback (joins the group briefly; slower).
      await (await this.getAdmin()).setOffsets({ groupId, topic, partitions }).catch((err: unknown) => {
        this.logger.debug('Group already active; it keeps its own offsets', { groupId, error: errorMessage(err) });
      });
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const coordinator = await cluster.findGroupCoordinator({ groupId });
        await coordinator.offsetCommit({ groupId, groupGenerationId: -1, memberId: '', retentionTime: -1, topics: [{ topic, partitions }] });
        return;
      } catch (err) {
        const type = (err as { type?: string }).type ?? '';
        if (['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS'].includes(type)) {
          // Members are active: the group already started and keeps its own offsets.
          this.logger.debug('Group already active; it keeps its own offsets', { groupId, type });
          return;
        }
        if (attempt >= 6) throw err;
        if (type === 'NOT_COORDINATOR' || type === 'NOT_COORDINATOR_FOR_GROUP') await cluster.refreshMetadata().catch(() => undefined);
        await sleep(100 * attempt);
      }
    }
  }

  /** kafkajs's internal cluster (for an OffsetCommit outside a group generation); undefined if this kafkajs build hides it. */
  private getOffsetsCluster(): Promise<InternalCluster | undefined> {
    this.offsetsCluster ??= (async () => {
      const symbol = Object.getOwnPropertySymbols(this.kafka).find((s) => s.description === 'private:Kafka:createCluster');
      const create = symbol === undefined ? undefined : (this.kafka as unknown as Record<symbol, unknown>)[symbol];
      if (typeof create !== 'function') return undefined;
      const cluster = (create as (o: object) => InternalCluster)({ allowAutoTopicCreation: false });
      await cluster.connect();
      return cluster;
    })();
    this.offsetsCluster.catch(() => {
      this.offsetsCluster = undefined;
    });
    return this.offsetsCluster;
  }

  private getAdmin(): Promise<Admin> {
    if (this.admin) return Promise.resolve(this.admin);
    this.adminConnecting ??= (async () => {
      const admin = this.kafka.admin({ retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 6 } });
      try {
        await admin.connect();
      } catch (err) {
        await admin.disconnect().catch(() => undefined);
        throw err;
      }
      if (this.closed) {
        await admin.disconnect().catch(() => undefined);
        throw new ClosedError('kafka transport');
      }
      this.admin = admin;
      return admin;
    })().finally(() => {
      this.adminConnecting = undefined;
    });
    return this.adminConnecting;
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

/** kafkajs reports a record over message.max.bytes as MESSAGE_TOO_LARGE (or RECORD_LIST_TOO_LARGE), possibly wrapped. */
function isTooLarge(err: unknown): boolean {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE') return true;
  }
  return false;
}
