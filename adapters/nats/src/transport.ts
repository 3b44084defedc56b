import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { connect, createInbox, headers, type Msg, nanos, type NatsConnection, RequestError, type Subscription, TimeoutError } from '@nats-io/transport-node';
import {
  type Capabilities,
  ClosedError,
  type ConsumeOptions,
  ConfigurationError,
  ConnectionError,
  type Delivery,
  type GroupPolicy,
  type Inbox,
  type Logger,
  PayloadTooLargeError,
  type PublishRequest,
  type Transport,
  type TransportConsumer,
  type TransportContext,
  ValidationError,
  type WireMessage,
} from '@switchyard/core';
import { errorMessage, groupPolicyConflict, outlasts, PromiseCache, retrying, scrubSecrets, urlSecrets } from '@switchyard/core/spi';
import { GroupConsumer, type GroupTarget } from './consumer.js';
import { requestDirect, serveDirect } from './direct.js';
import { type Names, names } from './names.js';
import { type NatsSettings, parseNatsUrl } from './options.js';
import { NoRespondersError, Replies } from './replies.js';
import { encodeNatsHeaders, fromNatsMsg, preEncoded, toNatsHeaders } from './wire.js';

/** Oldest nats-server this adapter runs on: consumer metadata (how a group's policy is kept) came with 2.10. */
export const MIN_SERVER_VERSION = '2.10.0';
/** Room left under the server's max_payload for headers as NATS encodes them (percent-encoding) and the dead-letter headroom. */
export const HEADER_RESERVE_BYTES = 96 * 1024;
/** MaxDeliver sits this far above core's maxAttempts: a backstop for crash loops core never sees the end of. */
export const MAX_DELIVER_MARGIN = 20;
/** How long consuming and declaring wait for the server (reconnects included) before giving up. */
const DECLARE_WAIT_MS = 60_000;
/** Ephemeral groups (core's reply topics) vanish this long after their consumer went away. */
const EPHEMERAL_INACTIVE_MS = 60_000;
/** Core's private reply topics: their stream goes when their last group does. */
const PRIVATE_TOPIC = /^switchyard\.reply\./;
/** Consumer metadata keys: the group's policy (what every member must share) is kept on the broker. */
const META = {
  topic: 'switchyard.topic',
  group: 'switchyard.group',
  maxAttempts: 'switchyard.max-attempts',
  deadLetter: 'switchyard.dead-letter',
  ephemeral: 'switchyard.ephemeral',
} as const;
/**
 * How long a topic found to have responders is believed to still have them. hasResponders() runs
 * before every stored request and costs a JetStream API round trip; groups are long-lived, so a
 * positive answer is reused this long (a negative one never is: a group declared a moment later is
 * seen at once). The price: a request within this window after a topic's last group was deleted
 * waits out its timeout instead of failing with NoResponderError.
 */
export const RESPONDERS_REMEMBERED_MS = 5_000;
/** JetStream's de-duplication header (the stream's duplicate window). */
const MSG_ID_HEADER = 'Nats-Msg-Id';
/**
 * Where a reply may go: core's reply inboxes (createInbox, `_INBOX.<id>`) and nats.js's request
 * inboxes (direct requests, `_INBOX.<id>.<token>`). The adapter's own publish-ack inbox
 * (`_INBOX.<id>.r.<n>`, replies.ts) has one token more, so no request can aim a reply at it.
 */
const INBOX = /^_INBOX\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?$/;

const API = { streamNotFound: 10059, consumerNotFound: 10014, streamNameInUse: 10058, subjectsOverlap: 10065, consumerExists: 10148, consumerNameExists: 10013 } as const;
const apiCode = (err: unknown) => (err instanceof JetStreamApiError ? err.code : undefined);

export class NatsTransport implements Transport {
  readonly name = 'nats';
  readonly telemetry = { system: 'nats' }; // messaging.system, as the OpenTelemetry conventions name it
  readonly logger: Logger;
  readonly names: Names;
  readonly consumers = new Set<GroupConsumer>();
  private readonly inboxes = new Set<Subscription>();
  private readonly streams = new PromiseCache<string, string>();
  /** Keyed by topic, group and policy (a group declared without one, for dead letters, gets it when consumed). */
  private readonly groups = new PromiseCache<string, void>();
  /** Topics last seen with at least one group, and until when that is believed (RESPONDERS_REMEMBERED_MS). */
  private readonly respondersUntil = new Map<string, number>();
  private connection: { nc: NatsConnection; jsm: JetStreamManager; replies: Replies } | undefined;
  /** Answers to this process's direct requests (made on the first one). */
  private directReplies: Replies | undefined;
  private state: 'idle' | 'open' | 'reconnecting' | 'failed' | 'closed' = 'idle';
  private reconnects = 0;
  private maxPayload = 1024 * 1024;
  private readonly secrets: string[];

  constructor(
    readonly settings: NatsSettings,
    url: URL,
    private readonly context: TransportContext,
  ) {
    this.logger = context.logger;
    this.names = names(settings.options.prefix);
    this.secrets = [...urlSecrets(url), settings.token, settings.pass].filter((s): s is string => s !== undefined && s.length > 0);
  }

  get capabilities(): Capabilities {
    return {
      persistent: this.settings.options.storage === 'file',
      consumerGroups: true,
      fanOut: true,
      ordering: 'none',
      nack: 'delayed',
      maxNackDelayMs: 86_400_000,
      redeliveryOnTimeout: true,
      leaseMs: this.settings.options.ackWaitMs,
      deliveryCount: 'exact',
      deadLetter: 'emulated',
      requestReply: 'native',
      noResponders: true,
      delay: 'emulated',
      maxNativeDelayMs: 0,
      nativeDedup: false,
      batchPublish: false,
      maxPayloadBytes: this.maxPayload - HEADER_RESERVE_BYTES,
      maxHeaders: 64,
      maxHeaderValueBytes: 4_096,
      maxHeaderBytes: 16_384,
    };
  }

  get nc(): NatsConnection {
    return this.open().nc;
  }

  /** Publish acks and ack confirmations: requests answered on one inbox. */
  get replies(): Replies {
    return this.open().replies;
  }

  scrub(text: string): string {
    return scrubSecrets(text, this.secrets);
  }

  // ---------------------------------------------------------------- connection

  async connect(): Promise<void> {
    if (this.state === 'closed') throw new ClosedError('nats transport');
    const { options, servers, user, pass, token } = this.settings;
    const tls =
      options.tls || options.ca || options.cert
        ? { ...(options.ca ? { caFile: options.ca } : {}), ...(options.cert ? { certFile: options.cert, keyFile: options.key } : {}) }
        : undefined;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers,
        ...(user !== undefined ? { user, pass } : {}),
        ...(token !== undefined ? { token } : {}),
        ...(tls ? { tls } : {}),
        name: options.name ?? `switchyard:${this.context.service}`,
        timeout: options.connectTimeoutMs,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        // nats.js otherwise builds an Error (a stack trace) per request to add the caller's stack
        // to a failure: per publish, ack and direct request here. Our errors say what failed themselves.
        noAsyncTraces: true,
      });
    } catch (err) {
      throw new ConnectionError(`Cannot connect to NATS at ${this.settings.redacted}: ${this.scrub(errorMessage(err))}`);
    }
    const version = nc.info?.version ?? '0.0.0';
    if (compareVersions(version, MIN_SERVER_VERSION) < 0) {
      await nc.close();
      throw new ConfigurationError(`The NATS server at ${this.settings.redacted} runs ${version}; @switchyard/nats needs nats-server ${MIN_SERVER_VERSION} or newer.`);
    }
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc, { timeout: 10_000 });
    } catch (err) {
      await nc.close();
      throw new ConfigurationError(`JetStream is not enabled on the NATS server at ${this.settings.redacted} (start nats-server with -js): ${this.scrub(errorMessage(err))}`);
    }
    this.maxPayload = nc.info?.max_payload ?? this.maxPayload;
    if (this.maxPayload < 2 * HEADER_RESERVE_BYTES) {
      await nc.close();
      throw new ConfigurationError(
        `The NATS server at ${this.settings.redacted} takes messages up to ${this.maxPayload} bytes (max_payload); @switchyard/nats needs at least ${2 * HEADER_RESERVE_BYTES}.`,
      );
    }
    this.connection = { nc, jsm, replies: new Replies(nc) };
    this.state = 'open';
    void this.watch(nc);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    void nc.closed().then((err) => {
      if (this.state === 'closed') return;
      // nats.js reconnects for ever: closed means for good (e.g. credentials refused on reconnect).
      this.state = 'failed';
      this.logger.error('The NATS connection closed for good; this bus can no longer publish or consume', {
        server: this.settings.redacted,
        error: this.scrub(errorMessage(err ?? 'closed')),
      });
    });
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' && this.state === 'open') {
        this.state = 'reconnecting';
        this.logger.warn('NATS connection lost; reconnecting', { server: this.settings.redacted });
      } else if (status.type === 'reconnect') {
        this.reconnects++;
        if (this.state === 'reconnecting') this.state = 'open';
        this.logger.info('NATS connection restored', { server: this.settings.redacted });
        // Pull requests made before may be gone with the old connection: each consumer asks afresh.
        for (const consumer of this.consumers) consumer.renew();
      }
    }
  }

  private open(): { nc: NatsConnection; jsm: JetStreamManager; replies: Replies } {
    if (this.state === 'closed') throw new ClosedError('nats transport');
    if (this.state === 'failed') throw new ConnectionError(`The connection to NATS at ${this.settings.redacted} closed for good; create a new bus.`);
    if (this.connection === undefined) throw new ConnectionError('The NATS transport is not connected yet (call connect() first).');
    return this.connection;
  }

  /** Retry `operation` across reconnects and server restarts until `deadlineMs`; typed errors are thrown at once. */
  private persist<T>(what: string, operation: () => Promise<T>, { deadlineMs, hint = '', signal }: { deadlineMs: number; hint?: string; signal?: AbortSignal }): Promise<T> {
    return retrying(operation, {
      initialDelayMs: 50,
      maxDelayMs: 1_000,
      deadlineMs,
      ...(signal ? { signal } : {}),
      retryIf: (err) =>
        (this.state === 'open' || this.state === 'reconnecting') &&
        !(err instanceof ConfigurationError || err instanceof ValidationError || err instanceof PayloadTooLargeError || err instanceof ClosedError),
    }).catch((err: unknown) => {
      if (this.state === 'closed') throw new ClosedError('nats transport');
      if (err instanceof ConfigurationError || err instanceof ValidationError || err instanceof PayloadTooLargeError || err instanceof ConnectionError) throw err;
      throw new ConnectionError(`${what} on NATS at ${this.settings.redacted} failed: ${this.scrub(errorMessage(err))}.${hint}`, { cause: err });
    });
  }

  // ---------------------------------------------------------------- publishing

  /**
   * A JetStream publish (ADR-1): the message with a reply subject, answered by the stream with a
   * PubAck (`{"stream":..,"seq":..}`) or an API error (`{"error":{..}}`), or by the server with
   * 503 when no stream captures the subject.
   */
  async publish({ topic, message }: PublishRequest): Promise<void> {
    const { replies } = this.open();
    // One id for every attempt of this publish: a retry after a lost ack is dropped by the
    // stream's duplicate window instead of stored twice. Never the message id: core republishes
    // copies (delayed, dead-lettered) that must not vanish as duplicates.
    const headerBytes = encodeNatsHeaders(message, { server: { [MSG_ID_HEADER]: randomUUID() } });
    const headers = preEncoded(headerBytes);
    const subject = this.names.subject(topic);
    const { publishTimeoutMs } = this.settings.options;
    await this.persist(
      `Publishing to "${topic}"`,
      async () => {
        await this.ensureStream(topic);
        let answer: Msg;
        try {
          answer = await replies.request(subject, message.body, Math.min(5_000, publishTimeoutMs), headers);
        } catch (err) {
          if (/max_payload/.test(errorMessage(err))) {
            const size = message.body.byteLength + headerBytes.byteLength;
            throw new PayloadTooLargeError(topic, size, this.maxPayload, 'nats');
          }
          // No stream captures the subject (503): the stream is gone; declared again on the retry.
          if (err instanceof NoRespondersError) this.streams.delete(topic);
          throw err;
        }
        const ack = parsePubAck(answer.data);
        if (ack.error !== undefined) {
          this.streams.delete(topic);
          throw new Error(`JetStream refused the publish: ${ack.error}`);
        }
      },
      { deadlineMs: publishTimeoutMs, hint: ' It may still arrive; retry the publish.' },
    );
  }

  async sendToInbox(address: string, message: WireMessage): Promise<void> {
    const { nc } = this.open();
    // The address comes from a request's ce-replyto: only ever an inbox, never an API subject.
    if (!INBOX.test(address)) throw new ValidationError(`Reply address "${address.slice(0, 80)}" is not a NATS inbox (_INBOX.<id>); no reply sent.`);
    nc.publish(address, message.body, { headers: toNatsHeaders(message) });
  }

  // ---------------------------------------------------------------- topology

  /** The topic's stream (created with interest retention on first use); resolves to its name. */
  ensureStream(topic: string): Promise<string> {
    return this.streams.get(topic, () => this.declareStream(topic));
  }

  private async declareStream(topic: string): Promise<string> {
    const { jsm } = this.open();
    const name = this.names.stream(topic);
    const subject = this.names.subject(topic);
    const { storage, replicas } = this.settings.options;
    try {
      const info = await jsm.streams.info(name);
      if (!info.config.subjects?.includes(subject)) {
        throw new ConfigurationError(`NATS stream "${name}" exists but does not capture "${subject}" (made outside Switchyard?). Delete it or choose another prefix.`);
      }
      return name;
    } catch (err) {
      if (apiCode(err) !== API.streamNotFound) throw err;
    }
    try {
      await jsm.streams.add({
        name,
        subjects: [subject],
        retention: RetentionPolicy.Interest,
        storage: storage === 'file' ? StorageType.File : StorageType.Memory,
        num_replicas: replicas,
        metadata: { [META.topic]: topic },
      });
    } catch (err) {
      if (apiCode(err) === API.streamNameInUse) return name; // another process made it meanwhile
      if (apiCode(err) === API.subjectsOverlap) {
        throw new ConfigurationError(
          `Another NATS stream already captures "${subject}", so topic "${topic}" cannot get its own stream. Remove that stream or choose another prefix.`,
        );
      }
      throw err;
    }
    return name;
  }

  async declareGroup(topic: string, group: string, policy?: GroupPolicy): Promise<void> {
    await this.ensureGroup(topic, group, policy);
  }

  /** Stream and durable consumer of (topic, group), holding the group's policy in its metadata. */
  ensureGroup(topic: string, group: string, policy?: GroupPolicy, signal?: AbortSignal): Promise<GroupTarget> {
    const target: GroupTarget = { topic, group, stream: this.names.stream(topic), consumer: this.names.consumer(group) };
    const declare = () =>
      this.persist(`Declaring group "${group}" on "${topic}"`, () => this.declareConsumer(target, policy), { deadlineMs: DECLARE_WAIT_MS, ...(signal ? { signal } : {}) });
    return this.groups.get(groupKey(topic, group, policy), declare).then(() => target);
  }

  /** Declare afresh next time (the consumer or stream may be gone). */
  forgetGroup(target: GroupTarget, policy?: GroupPolicy): void {
    this.groups.delete(groupKey(target.topic, target.group));
    if (policy) this.groups.delete(groupKey(target.topic, target.group, policy));
    this.streams.delete(target.topic);
  }

  private async declareConsumer(target: GroupTarget, policy: GroupPolicy | undefined): Promise<void> {
    const { jsm } = this.open();
    await this.ensureStream(target.topic);
    const { ackWaitMs, maxAckPending } = this.settings.options;
    const metadata: Record<string, string> = { [META.topic]: target.topic, [META.group]: target.group };
    if (policy) {
      metadata[META.maxAttempts] = String(policy.maxAttempts);
      metadata[META.deadLetter] = policy.deadLetterTopic === false ? '' : policy.deadLetterTopic;
      metadata[META.ephemeral] = String(policy.ephemeral);
    }
    const config: Partial<ConsumerConfig> = {
      durable_name: target.consumer,
      ack_policy: AckPolicy.Explicit,
      // A group created later starts with what is published from then on, as on every broker.
      deliver_policy: DeliverPolicy.New,
      ack_wait: nanos(ackWaitMs),
      max_ack_pending: maxAckPending,
      max_deliver: policy ? policy.maxAttempts + MAX_DELIVER_MARGIN : -1,
      ...(policy?.ephemeral ? { inactive_threshold: nanos(EPHEMERAL_INACTIVE_MS) } : {}),
      metadata,
    };
    let info: ConsumerInfo;
    try {
      info = await jsm.consumers.info(target.stream, target.consumer);
    } catch (err) {
      if (apiCode(err) !== API.consumerNotFound && apiCode(err) !== API.streamNotFound) throw err;
      if (apiCode(err) === API.streamNotFound) this.streams.delete(target.topic);
      try {
        await jsm.consumers.add(target.stream, config);
        return;
      } catch (addErr) {
        if (apiCode(addErr) !== API.consumerExists && apiCode(addErr) !== API.consumerNameExists) throw addErr;
        info = await jsm.consumers.info(target.stream, target.consumer); // another process made it meanwhile
      }
    }
    const had = info.config.metadata ?? {};
    let policyChanged = policy !== undefined && had[META.maxAttempts] === undefined;
    if (policy && had[META.maxAttempts] !== undefined) {
      const existing: GroupPolicy = {
        ...policy,
        maxAttempts: Number(had[META.maxAttempts]),
        deadLetterTopic: had[META.deadLetter] || false,
        ephemeral: had[META.ephemeral] === 'true',
      };
      const conflict = groupPolicyConflict(target.topic, target.group, existing, policy);
      // The stored policy binds while the group has members: a consumer waiting for messages
      // (num_waiting; asked for info, the server first drops requests whose client went away) or
      // holding some (num_ack_pending). Once they all left, a new policy replaces it.
      if (conflict && (info.num_waiting > 0 || info.num_ack_pending > 0)) throw conflict;
      policyChanged ||= conflict !== undefined;
    }
    const stale = info.config.ack_wait !== config.ack_wait || info.config.max_ack_pending !== config.max_ack_pending || policyChanged;
    if (stale) {
      const { durable_name: _name, ack_policy: _ack, deliver_policy: _deliver, ...changes } = config;
      await jsm.consumers.update(target.stream, target.consumer, policy ? changes : { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
    }
  }

  async deleteGroup(topic: string, group: string): Promise<void> {
    const { jsm } = this.open();
    const stream = this.names.stream(topic);
    this.forgetGroup({ topic, group, stream, consumer: this.names.consumer(group) });
    this.respondersUntil.delete(topic);
    try {
      await jsm.consumers.delete(stream, this.names.consumer(group));
      if (PRIVATE_TOPIC.test(topic) && (await jsm.streams.info(stream)).state.consumer_count === 0) await jsm.streams.delete(stream);
    } catch (err) {
      if (apiCode(err) !== API.consumerNotFound && apiCode(err) !== API.streamNotFound) throw err;
    }
  }

  async exists(topic: string, group?: string): Promise<boolean> {
    const { nc, jsm } = this.open();
    if (group === undefined && INBOX.test(topic)) {
      // An inbox is a subscription: a request to it fails at once with "no responders" when nobody listens.
      try {
        await nc.request(topic, new Uint8Array(0), { timeout: 2_000, headers: probeHeaders() });
        return true;
      } catch (err) {
        if (err instanceof RequestError && err.isNoResponders()) return false;
        if (err instanceof TimeoutError) return true; // someone's inbox that does not answer probes
        throw err;
      }
    }
    try {
      if (group === undefined) await jsm.streams.info(this.names.stream(topic));
      else await jsm.consumers.info(this.names.stream(topic), this.names.consumer(group));
      return true;
    } catch (err) {
      if (apiCode(err) === API.consumerNotFound || apiCode(err) === API.streamNotFound) return false;
      throw err;
    }
  }

  // ---------------------------------------------------------------- consuming

  async consume(topic: string, group: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.open();
    const policy = options.policy;
    const target = await this.ensureGroup(topic, group, policy);
    const ensure = async (signal: AbortSignal) => {
      this.forgetGroup(target, policy);
      await this.ensureGroup(topic, group, policy, signal);
    };
    const consumer = new GroupConsumer(this, target, Math.max(1, options.prefetch), ensure, onDelivery);
    this.consumers.add(consumer);
    consumer.start();
    if (!options.answersRequests) return consumer;
    // Requests to a live member skip the stream (direct.ts); the durable consumer still takes stored ones.
    const direct = serveDirect(this.open().nc, this.names.direct(topic), group, this.logger, onDelivery);
    return {
      stop: async () => {
        await direct.stop();
        await consumer.stop();
      },
      close: async () => {
        await direct.close();
        await consumer.close();
      },
    };
  }

  // ---------------------------------------------------------------- request/reply

  async createInbox(onMessage: (message: WireMessage) => void): Promise<Inbox> {
    const { nc } = this.open();
    const sub = nc.subscribe(createInbox(), {
      callback: (err, msg) => {
        if (err) return this.logger.warn('The NATS reply inbox failed', { error: this.scrub(errorMessage(err)) });
        if (msg.headers?.has(PROBE_HEADER) && msg.reply) {
          msg.respond();
          return;
        }
        try {
          onMessage(fromNatsMsg(msg));
        } catch (handleErr) {
          this.logger.warn('Handling a reply failed', { error: errorMessage(handleErr) });
        }
      },
    });
    this.inboxes.add(sub);
    return {
      address: sub.getSubject(),
      close: async () => {
        this.inboxes.delete(sub);
        if (!sub.isClosed()) sub.unsubscribe();
      },
    };
  }

  /** Straight to a live member of an answering group (direct.ts); undefined when none is live. */
  async requestDirect(topic: string, message: WireMessage, waitMs: number): Promise<WireMessage | undefined> {
    const { nc } = this.open();
    this.directReplies ??= new Replies(nc, 'reply handlers');
    try {
      return await requestDirect(this.directReplies, this.names.direct(topic), message, waitMs);
    } catch (err) {
      throw new ConnectionError(`Request to "${topic}" over NATS failed: ${this.scrub(errorMessage(err))}`, { cause: err });
    }
  }

  /** Someone could receive a request on `topic`: its stream has at least one group (durable consumer). */
  async hasResponders(topic: string): Promise<boolean> {
    const { jsm } = this.open();
    const until = this.respondersUntil.get(topic);
    if (until !== undefined && Date.now() < until) return true;
    const lookup = async () => {
      try {
        return (await jsm.streams.info(this.names.stream(topic))).state.consumer_count > 0;
      } catch (err) {
        if (apiCode(err) === API.streamNotFound) return false;
        throw err;
      }
    };
    const found = await this.persist(`Looking up responders for "${topic}"`, lookup, { deadlineMs: this.settings.options.publishTimeoutMs });
    if (found) this.respondersUntil.set(topic, Date.now() + RESPONDERS_REMEMBERED_MS);
    else this.respondersUntil.delete(topic);
    return found;
  }

  // ---------------------------------------------------------------- lifecycle

  async health(): Promise<{ ok: boolean; details: Record<string, unknown> }> {
    const nc = this.connection?.nc;
    return {
      ok: this.state === 'open',
      details: {
        state: this.state,
        server: this.settings.redacted,
        serverVersion: nc?.info?.version,
        jetstream: true,
        consumers: this.consumers.size,
        reconnects: this.reconnects,
      },
    };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    for (const sub of this.inboxes) if (!sub.isClosed()) sub.unsubscribe();
    this.inboxes.clear();
    this.state = 'closed';
    this.connection?.replies.close();
    this.directReplies?.close();
    const nc = this.connection?.nc;
    if (nc === undefined || nc.isClosed()) return;
    // Flush what is buffered (acks, naks) before closing; a server that is gone does not hold us up.
    await outlasts(
      nc.flush().catch(() => undefined),
      2_000,
    );
    await nc.close().catch(() => undefined);
  }
}

/** The stream's ack for a publish: an error's description, or nothing when it was stored. */
export function parsePubAck(data: Uint8Array): { error?: string } {
  let ack: { stream?: unknown; error?: { code?: unknown; description?: unknown } };
  try {
    ack = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return { error: 'the answer is not JSON' };
  }
  if (ack.error !== undefined) return { error: `${String(ack.error.description ?? 'unknown error')} (${String(ack.error.code ?? '?')})` };
  if (typeof ack.stream !== 'string' || ack.stream === '') return { error: 'the answer names no stream' };
  return {};
}

/** exists() asks an inbox whether it is there; ours answer at once instead of taking it for a reply. */
const PROBE_HEADER = 'Switchyard-Probe';
function probeHeaders() {
  const h = headers();
  h.set(PROBE_HEADER, '1');
  return h;
}

function groupKey(topic: string, group: string, policy?: GroupPolicy): string {
  return `${topic}\0${group}\0${policy ? `${policy.maxAttempts}\0${policy.deadLetterTopic}\0${policy.ephemeral}` : ''}`;
}

/** -1, 0 or 1 as semantic version a is below, equal to or above b (pre-release suffixes ignored). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    v
      .replace(/^v/, '')
      .split(/[-+]/)[0]!
      .split('.')
      .map((n) => Number.parseInt(n, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0) ? -1 : 1;
  return 0;
}

export function createNatsTransport(url: URL, context: TransportContext): NatsTransport {
  return new NatsTransport(parseNatsUrl(url, context.hosts), url, context);
}
