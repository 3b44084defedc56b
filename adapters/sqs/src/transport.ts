import { createHash, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  type Message as SqsMessage,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  ClosedError,
  ConnectionError,
  PayloadTooLargeError,
  ValidationError,
  type Capabilities,
  type ConsumeOptions,
  type Delivery,
  type GroupPolicy,
  type Logger,
  type PublishRequest,
  type Transport,
  type TransportConsumer,
  type TransportContext,
  type WireMessage,
} from '@switchyard/core';
import { Attr, errorMessage, probeHealth, ReplyAttr, retrying, settleOnce } from '@switchyard/core/spi';
import { Batcher, EntryError } from './batcher.js';
import { createSqsClient } from './client.js';
import { QueueNames } from './names.js';
import { parseSqsUrl, type SqsSettings } from './options.js';
import { fromSqs, MAX_SQS_MESSAGE_BYTES, toSqs } from './wire.js';

/** Largest body + headers + key core accepts: base64 (4/3) and JSON-escaped headers still fit SQS's 1 MiB, dead-letter headroom included. */
export const MAX_PAYLOAD_BYTES = 720 * 1024;
/** Longest visibility SQS allows from a receive is 12 h; core holds a delivery at most 1 h before settling it. */
const MAX_NACK_DELAY_MS = 11 * 3_600_000;
const MAX_VISIBILITY_S = 43_200;
const PRINTABLE_ID = /^[\x21-\x7e]{1,128}$/;
/**
 * Receives that ended in a release (the consumer had stopped; the message never reached a
 * handler), per queue and message, for every transport of this process. ApproximateReceiveCount
 * counts them; `deliveryCount` leaves them out, so a message taken and given back by consumers
 * that were closing does not reach maxAttempts unhandled. (Such receives in other processes still
 * count: SQS's count is approximate.)
 */
const released = new Map<string, number>();
const MAX_RELEASED = 10_000;

interface SendEntry {
  readonly body: string;
  readonly attributes: SendMessageBatchRequestEntry['MessageAttributes'];
  readonly delaySeconds?: number;
  readonly groupId?: string;
  readonly dedupId?: string;
}

/** SQS answered 4xx for the request itself (not throttling): the same request fails again. */
export function isPermanent(err: unknown): boolean {
  if (err instanceof EntryError) return err.senderFault && !/Throttl/i.test(err.name);
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && !/Throttl|OverLimit/i.test((err as Error).name);
}
const named = (err: unknown, ...names: string[]) => names.includes((err as Error | undefined)?.name ?? '');
/** The message is no longer ours to settle: deleted, or its visibility ran out and someone else has it. */
const isGone = (err: unknown) => named(err, 'ReceiptHandleIsInvalid', 'MessageNotInflight', 'InvalidParameterValue', 'QueueDoesNotExist');

export class SqsTransport implements Transport {
  readonly name = 'sqs';
  readonly telemetry = { system: 'aws_sqs' }; // messaging.system, as the OpenTelemetry conventions name it
  readonly capabilities: Capabilities;
  readonly names: QueueNames;
  /** Every command of this transport goes through it. */
  readonly client: SQSClient;
  private readonly queueUrls = new Map<string, Promise<string>>();
  /** topic → its group queue URLs as last listed (plus those declared here since). */
  private readonly topicGroups = new Map<string, { urls: Set<string>; listedAt: number; listing?: Promise<Set<string>> }>();
  private readonly redrives = new Map<string, string>();
  private readonly arns = new Map<string, string>();
  private readonly sender: Batcher<SendEntry, void>;
  private readonly deleter: Batcher<string, void>;
  private readonly pollers = new Set<Poller>();
  /** Receives in flight: close() waits for them (an aborted long poll would swallow a message for a whole lease). */
  readonly receiving = new Set<Promise<unknown>>();
  private readonly closing = new AbortController();
  private closed = false;

  constructor(
    readonly settings: SqsSettings,
    readonly logger: Logger,
  ) {
    const { options } = settings;
    // Every retry loop of this transport listens on it.
    setMaxListeners(0, this.closing.signal);
    this.names = new QueueNames(options.prefix, options.fifo);
    this.client = createSqsClient(settings);
    this.sender = new Batcher((url, entries) => this.sendBatch(url, entries), MAX_SQS_MESSAGE_BYTES, { soonWhenIdle: true });
    this.deleter = new Batcher((url, handles) => this.deleteBatch(url, handles), Number.POSITIVE_INFINITY);
    this.capabilities = {
      persistent: true,
      consumerGroups: true,
      fanOut: true,
      ordering: options.fifo ? 'perKey' : 'none',
      nack: 'delayed',
      maxNackDelayMs: MAX_NACK_DELAY_MS,
      redeliveryOnTimeout: true,
      leaseMs: settings.leaseMs,
      deliveryCount: 'approximate',
      deadLetter: options.redriveMargin > 0 ? 'native' : 'emulated',
      requestReply: 'emulated',
      noResponders: false,
      // FIFO queues take no per-message delay: core holds and republishes instead.
      delay: options.fifo ? 'emulated' : 'native',
      maxNativeDelayMs: options.fifo ? 0 : 900_000,
      nativeDedup: options.fifo,
      batchPublish: true,
      maxPayloadBytes: MAX_PAYLOAD_BYTES,
      maxHeaders: 64,
      maxHeaderValueBytes: 16_384,
      maxHeaderBytes: 16_384,
    };
  }

  async connect(): Promise<void> {
    this.assertOpen();
    try {
      await this.client.send(new ListQueuesCommand({ QueueNamePrefix: this.settings.options.prefix, MaxResults: 1 }));
    } catch (err) {
      throw this.error(`Cannot reach SQS at ${this.where()}`, err);
    }
  }

  // ---------------------------------------------------------------- publishing

  /** Sends to every group queue of the topic: not atomic (see README) — a failure may leave copies in some groups. */
  async publish({ topic, message, delayMs }: PublishRequest): Promise<void> {
    this.assertOpen();
    const out = toSqs(message);
    if (out.size > MAX_SQS_MESSAGE_BYTES) throw new PayloadTooLargeError(topic, out.size, MAX_SQS_MESSAGE_BYTES, 'sqs');
    const entry: SendEntry = {
      body: out.body,
      attributes: out.attributes,
      ...(delayMs !== undefined && delayMs > 0 && !this.names.fifo ? { delaySeconds: Math.min(900, Math.ceil(delayMs / 1000)) } : {}),
      ...(this.names.fifo ? fifoIds(message) : {}),
    };
    const urls = await this.groupsOf(topic);
    // A reply whose inbox is gone has nobody waiting for it (its requester closed): not worth a wait.
    const waitForMissingQueue = message.headers[ReplyAttr.inReplyTo] === undefined;
    await Promise.all([...urls].map((url) => this.sendTo(topic, url, entry, out.size, waitForMissingQueue)));
  }

  private async sendTo(topic: string, url: string, entry: SendEntry, size: number, waitForMissingQueue: boolean): Promise<void> {
    try {
      await retrying(() => this.sender.add(url, entry, size), {
        initialDelayMs: 100,
        maxDelayMs: 2000,
        deadlineMs: this.settings.options.publishTimeoutMs,
        signal: this.closing.signal,
        // A queue that does not exist may be one a restarting server has not restored yet (ElasticMQ
        // answers before it has): waited out like an outage, not taken for a deleted group at once.
        retryIf: (err) => !isPermanent(err) || (waitForMissingQueue && named(err, 'QueueDoesNotExist')),
      });
    } catch (err) {
      if (named(err, 'QueueDoesNotExist')) {
        // Still gone after publishTimeoutMs (a reply: at once): the group was deleted; it wants nothing more.
        this.logger.info('A group queue of the topic no longer exists; publishing on without it', { topic, queue: url });
        this.topicGroups.get(topic)?.urls.delete(url);
        return;
      }
      if (this.closed) throw new ClosedError('sqs transport');
      if (/MessageTooLong/i.test(errorMessage(err))) throw new PayloadTooLargeError(topic, size, MAX_SQS_MESSAGE_BYTES, 'sqs');
      if (isPermanent(err)) throw new ValidationError(`SQS refused the message for "${topic}": ${errorMessage(err)}. Nothing was sent to that group.`, [], { cause: err });
      throw this.error(
        `Publishing to "${topic}" on SQS at ${this.where()} failed`,
        err,
        'It may have reached some of the topic’s groups; retry the publish (idempotent handlers absorb the duplicates).',
      );
    }
  }

  private async sendBatch(url: string, entries: SendEntry[]): Promise<(undefined | EntryError)[]> {
    const result = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: entries.map((e, i) => ({
          Id: String(i),
          MessageBody: e.body,
          MessageAttributes: e.attributes,
          ...(e.delaySeconds === undefined ? {} : { DelaySeconds: e.delaySeconds }),
          ...(e.groupId === undefined ? {} : { MessageGroupId: e.groupId, MessageDeduplicationId: e.dedupId }),
        })),
      }),
    );
    const failed = new Map((result.Failed ?? []).map((f) => [f.Id, new EntryError(f)]));
    return entries.map((_, i) => failed.get(String(i)));
  }

  /**
   * The topic's group queues: listed by name prefix, trusted for groupCacheMs (a group declared
   * elsewhere shows up after that). A listing only adds: a group it leaves out may be one a
   * restarting server has not restored yet (ElasticMQ lists none of its queues for seconds after it
   * answers), and dropping it would confirm publishes that reach nobody. A group leaves the set when
   * a send finds its queue gone (sendTo), or when this transport deletes it.
   */
  private async groupsOf(topic: string): Promise<Set<string>> {
    let entry = this.topicGroups.get(topic);
    if (!entry) {
      entry = { urls: new Set(), listedAt: 0 };
      this.topicGroups.set(topic, entry);
    }
    if (Date.now() - entry.listedAt <= this.settings.options.groupCacheMs && entry.urls.size > 0) return entry.urls;
    const current = entry;
    current.listing ??= this.listGroups(topic)
      .then((urls) => {
        for (const url of urls) current.urls.add(url);
        current.listedAt = Date.now();
        return current.urls;
      })
      .finally(() => (current.listing = undefined));
    return current.listing;
  }

  private async listGroups(topic: string): Promise<Set<string>> {
    const urls = new Set<string>();
    let token: string | undefined;
    try {
      do {
        const page = await retrying(
          () => this.client.send(new ListQueuesCommand({ QueueNamePrefix: this.names.topicPrefix(topic), MaxResults: 1000, ...(token ? { NextToken: token } : {}) })),
          { initialDelayMs: 100, maxDelayMs: 2000, deadlineMs: this.settings.options.publishTimeoutMs, signal: this.closing.signal, retryIf: (err) => !isPermanent(err) },
        );
        for (const url of page.QueueUrls ?? []) if (this.names.isOurs(url)) urls.add(url);
        token = page.NextToken;
      } while (token);
    } catch (err) {
      throw this.error(`Listing the groups of "${topic}" on SQS at ${this.where()} failed`, err);
    }
    return urls;
  }

  // ---------------------------------------------------------------- groups

  async declareGroup(topic: string, group: string, policy?: GroupPolicy): Promise<void> {
    await this.ensureGroup(topic, group, policy);
  }

  async ensureGroup(topic: string, group: string, policy?: GroupPolicy): Promise<string> {
    this.assertOpen();
    const url = await this.ensureQueue(this.names.groupQueue(topic, group));
    const cached = this.topicGroups.get(topic);
    if (cached) cached.urls.add(url);
    if (policy !== undefined) await this.setRedrive(url, group, policy);
    return url;
  }

  private ensureQueue(name: string): Promise<string> {
    let pending = this.queueUrls.get(name);
    if (!pending) {
      pending = retrying(
        async () => {
          try {
            const created = await this.client.send(new CreateQueueCommand({ QueueName: name, ...(this.names.fifo ? { Attributes: { FifoQueue: 'true' } } : {}) }));
            return created.QueueUrl!;
          } catch (err) {
            // Made by someone with other attributes (a redrive policy is set after creation, so not by us): use it as it is.
            if (!named(err, 'QueueNameExists', 'QueueAlreadyExists')) throw err;
            return (await this.client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
          }
        },
        { initialDelayMs: 100, maxDelayMs: 2000, deadlineMs: this.settings.options.publishTimeoutMs, signal: this.closing.signal, retryIf: (err) => !isPermanent(err) },
      ).catch((err: unknown) => {
        this.queueUrls.delete(name);
        throw this.error(`Creating SQS queue "${name}" at ${this.where()} failed`, err);
      });
      this.queueUrls.set(name, pending);
    }
    return pending;
  }

  /**
   * Native backstop: a message received maxAttempts + redriveMargin times (a crash loop core never
   * sees the end of) moves to this group's queue on the dead-letter topic. Set on every declaration
   * with a policy: the last one wins (SQS cannot tell whether a group still has consumers).
   */
  private async setRedrive(url: string, group: string, policy: GroupPolicy): Promise<void> {
    const margin = this.settings.options.redriveMargin;
    if (margin === 0 || policy.ephemeral) return;
    let redrive = '';
    if (policy.deadLetterTopic !== false) {
      const dlqUrl = await this.ensureGroup(policy.deadLetterTopic, group);
      let arn = this.arns.get(dlqUrl);
      if (arn === undefined) {
        const { Attributes } = await this.call(`Reading the ARN of ${dlqUrl}`, () =>
          this.client.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] })),
        );
        arn = Attributes?.['QueueArn'] ?? '';
        this.arns.set(dlqUrl, arn);
      }
      redrive = JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: Math.min(1000, policy.maxAttempts + margin) });
    }
    if ((this.redrives.get(url) ?? '') === redrive) return;
    await this.call(`Setting the redrive policy of ${url}`, () => this.client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { RedrivePolicy: redrive } })));
    this.redrives.set(url, redrive);
  }

  async deleteGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    const name = this.names.groupQueue(topic, group);
    const url = await this.queueUrl(name);
    this.queueUrls.delete(name);
    this.topicGroups.delete(topic);
    if (url === undefined) return;
    try {
      await this.call(`Deleting SQS queue "${name}"`, () => this.client.send(new DeleteQueueCommand({ QueueUrl: url })));
    } catch (err) {
      if (!named((err as Error).cause, 'QueueDoesNotExist')) throw err;
    }
  }

  async exists(topic: string, group?: string): Promise<boolean> {
    this.assertOpen();
    if (group !== undefined) return (await this.queueUrl(this.names.groupQueue(topic, group))) !== undefined;
    return (await this.listGroups(topic)).size > 0;
  }

  private async queueUrl(name: string): Promise<string | undefined> {
    try {
      return (await this.call(`Looking up SQS queue "${name}"`, () => this.client.send(new GetQueueUrlCommand({ QueueName: name })))).QueueUrl;
    } catch (err) {
      if (named((err as Error).cause, 'QueueDoesNotExist')) return undefined;
      throw err;
    }
  }

  // ---------------------------------------------------------------- consuming

  async consume(topic: string, group: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    const url = await this.ensureGroup(topic, group, options.policy);
    this.assertOpen();
    const poller = new Poller(this, url, `${topic} (group ${group})`, Math.max(1, options.prefetch), onDelivery);
    this.pollers.add(poller);
    poller.start();
    return {
      stop: async () => poller.stop(),
      close: async () => {
        await poller.close();
        this.pollers.delete(poller);
      },
    };
  }

  async pull(topic: string, group: string, options: { max: number; waitMs: number; signal?: AbortSignal }): Promise<Delivery[]> {
    const url = await this.ensureGroup(topic, group);
    const deadline = Date.now() + options.waitMs;
    const out: Delivery[] = [];
    for (;;) {
      const waitMs = out.length > 0 ? 0 : Math.max(0, deadline - Date.now());
      const messages = await this.receive(url, Math.min(10, options.max - out.length), Math.min(20, Math.ceil(waitMs / 1000)));
      if (options.signal?.aborted || this.closed) {
        await Promise.all(messages.map((m) => this.release(url, m)));
        return out;
      }
      for (const m of messages) out.push(this.delivery(url, m));
      if (out.length >= options.max || (messages.length === 0 && (out.length > 0 || Date.now() >= deadline))) return out;
    }
  }

  /** One ReceiveMessage. Never aborted: a long poll cut short still takes the next message off the queue for a whole lease. */
  async receive(url: string, max: number, waitSeconds: number): Promise<SqsMessage[]> {
    const request = this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: this.settings.options.visibilityTimeout,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
      }),
    );
    this.receiving.add(request);
    try {
      return (await request).Messages ?? [];
    } catch (err) {
      throw this.error(`Receiving from ${url} failed`, err);
    } finally {
      this.receiving.delete(request);
    }
  }

  delivery(url: string, m: SqsMessage, onSettle?: () => void): Delivery {
    const receivedAt = Date.now();
    const receipt = m.ReceiptHandle!;
    const unattempted = `${url}#${m.MessageId}`;
    const settling = <T>(work: () => Promise<T>) => {
      onSettle?.();
      return work();
    };
    return settleOnce({
      message: fromSqs(m, this.names.fifo),
      deliveryCount: Math.max(1, (Number(m.Attributes?.['ApproximateReceiveCount'] ?? 1) || 1) - (released.get(unattempted) ?? 0)),
      ...(m.MessageId === undefined ? {} : { brokerId: m.MessageId }),
      ack: () => {
        released.delete(unattempted);
        return settling(() => this.deleteMessage(url, receipt));
      },
      nack: ({ delayMs }) => {
        // Visibility counts from the receive and ends 12 h after it at the latest.
        const room = MAX_VISIBILITY_S - Math.ceil((Date.now() - receivedAt) / 1000) - 60;
        return settling(async () => void (await this.changeVisibility(url, receipt, Math.max(0, Math.min(room, Math.ceil(delayMs / 1000))))));
      },
      abandon: () => settling(async () => void (await this.changeVisibility(url, receipt, 0))),
      extend: (ms) => this.changeVisibility(url, receipt, Math.min(MAX_VISIBILITY_S, Math.ceil(ms / 1000))),
    });
  }

  /** Give a received message straight back (received after its consumer stopped): it was not attempted, so its receive is not counted. */
  async release(url: string, m: SqsMessage): Promise<void> {
    const key = `${url}#${m.MessageId}`;
    released.set(key, (released.get(key) ?? 0) + 1);
    if (released.size > MAX_RELEASED) released.delete(released.keys().next().value!);
    await this.changeVisibility(url, m.ReceiptHandle!, 0).catch((err: unknown) =>
      this.logger.debug('Releasing a message failed; it comes back after its visibility timeout', { error: errorMessage(err) }),
    );
  }

  private async deleteMessage(url: string, receipt: string): Promise<void> {
    try {
      await retrying(() => this.deleter.add(url, receipt), { initialDelayMs: 100, maxDelayMs: 2000, deadlineMs: 30_000, retryIf: (err) => !isPermanent(err) });
    } catch (err) {
      // "Invalid receipt handle": already deleted, or its visibility ran out and it went to someone else.
      if (isGone(err)) return this.logger.debug('Ack of a message SQS no longer holds for us', { url, error: errorMessage(err) });
      throw this.error(`Acknowledging a message of ${url} failed; SQS delivers it again`, err);
    }
  }

  private async deleteBatch(url: string, handles: string[]): Promise<(undefined | EntryError)[]> {
    const result = await this.client.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: handles.map((h, i) => ({ Id: String(i), ReceiptHandle: h })) }));
    const failed = new Map((result.Failed ?? []).map((f) => [f.Id, new EntryError(f)]));
    return handles.map((_, i) => failed.get(String(i)));
  }

  /** ChangeMessageVisibility; false when SQS no longer holds the message for us. */
  private async changeVisibility(url: string, receipt: string, seconds: number): Promise<boolean> {
    try {
      await retrying(() => this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: receipt, VisibilityTimeout: seconds })), {
        initialDelayMs: 100,
        maxDelayMs: 2000,
        deadlineMs: 10_000,
        retryIf: (err) => !isPermanent(err),
      });
      return true;
    } catch (err) {
      if (isGone(err)) return false;
      throw this.error(`Changing the visibility of a message of ${url} failed`, err);
    }
  }

  // ---------------------------------------------------------------- lifecycle

  async health(): Promise<{ ok: boolean; details: Record<string, unknown> }> {
    const details: Record<string, unknown> = {
      endpoint: this.where(),
      region: this.settings.region ?? '(from the AWS config)',
      mode: this.names.fifo ? 'fifo' : 'standard',
      consumers: this.pollers.size,
    };
    return probeHealth(details, this.closed, async () => {
      await this.client.send(new ListQueuesCommand({ QueueNamePrefix: this.settings.options.prefix, MaxResults: 1 }));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pollers].map((p) => p.close()));
    this.pollers.clear();
    // Pulls in flight: their messages are released as they arrive.
    await Promise.allSettled([...this.receiving]);
    this.closing.abort();
    this.client.destroy();
  }

  isClosed(): boolean {
    return this.closed;
  }

  private where(): string {
    return this.settings.endpoint ?? `the AWS endpoint of ${this.settings.region ?? 'the configured region'}`;
  }

  private async call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await retrying(operation, { initialDelayMs: 100, maxDelayMs: 2000, deadlineMs: 30_000, signal: this.closing.signal, retryIf: (err) => !isPermanent(err) });
    } catch (err) {
      throw this.error(`${what} failed`, err);
    }
  }

  error(what: string, err: unknown, hint = ''): Error {
    if (err instanceof ClosedError || err instanceof ConnectionError) return err;
    if (this.closed) return new ClosedError('sqs transport');
    return new ConnectionError(`${what}: ${errorMessage(err)}.${hint ? ` ${hint}` : ''}`, { cause: err });
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('sqs transport');
  }
}

/**
 * FIFO ids: MessageGroupId = the key (per-key order; a message without one is a group of its own),
 * MessageDeduplicationId = the message id. Core's copies of a message (dead letters, delayed
 * copies for one group) carry x-switchyard-* headers and get an id of their own from them, so
 * SQS does not drop them as duplicates of the original; requests (ce-replyto) are never dropped.
 */
function fifoIds(message: WireMessage): { groupId: string; dedupId: string } {
  const id = message.headers[Attr.id];
  const copy = Object.entries(message.headers)
    .filter(([name]) => name.startsWith('x-switchyard-') || name === Attr.notBefore)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const hash = (text: string) => createHash('sha256').update(text).digest('hex');
  // A request must reach its replier every time it is sent: a retry expects its (idempotently kept) reply again.
  const unique = id === undefined || message.headers[ReplyAttr.replyTo] !== undefined ? randomUUID() : id;
  const dedupId = unique === id && copy.length === 0 && PRINTABLE_ID.test(id) ? id : hash(JSON.stringify([unique, copy]));
  const key = message.key;
  return { groupId: key === undefined ? dedupId : PRINTABLE_ID.test(key) ? key : hash(key), dedupId };
}

/**
 * One subscription's receive loops: keep up to `prefetch` deliveries unsettled. Standard queues:
 * one long poll at a time for up to 10 messages. FIFO queues: one message per receive, several
 * receives at once — SQS locks a message group while one of its messages is out, so each key has
 * at most one message in core's hands (a batch may hold several of one key, which core would run
 * side by side).
 */
class Poller {
  private outstanding = 0;
  private reserved = 0;
  private stopped = false;
  private waiting: (() => void)[] = [];
  private loops: Promise<void>[] = [];
  private readonly stopping = new AbortController();

  constructor(
    private readonly transport: SqsTransport,
    readonly url: string,
    private readonly what: string,
    private readonly prefetch: number,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {}

  start(): void {
    const lanes = this.transport.names.fifo ? Math.min(this.prefetch, 10) : 1;
    this.loops = Array.from({ length: lanes }, () => this.run());
  }

  private async run(): Promise<void> {
    const { settings, logger, names } = this.transport;
    while (!this.stopped) {
      const room = this.prefetch - this.outstanding - this.reserved;
      if (room <= 0) {
        await new Promise<void>((resolve) => this.waiting.push(resolve));
        continue;
      }
      const max = names.fifo ? 1 : Math.min(10, room);
      this.reserved += max;
      let messages: SqsMessage[];
      try {
        messages = await retrying(() => this.transport.receive(this.url, max, settings.options.waitTimeSeconds), {
          initialDelayMs: 200,
          maxDelayMs: 5000,
          signal: this.stopping.signal,
          onRetry: (err, attempt) => {
            if (attempt === 1 || attempt % 10 === 0) logger.warn('Receiving from SQS failed; retrying', { consumer: this.what, attempt, error: errorMessage(err) });
          },
        });
      } catch {
        continue; // stopping
      } finally {
        this.reserved -= max;
      }
      for (const m of messages) {
        if (this.stopped) {
          await this.transport.release(this.url, m);
          continue;
        }
        this.outstanding++;
        let counted = true;
        this.onDelivery(
          this.transport.delivery(this.url, m, () => {
            if (!counted) return;
            counted = false;
            this.outstanding--;
            this.wakeAll();
          }),
        );
      }
      // The next receive waits for a macrotask: what the handlers do first (a reply's send, acks)
      // goes to SQS before it. The SDK spends as much CPU building a receive as a send, and a
      // reply stuck behind it is latency on the requester's side; the long poll loses nothing.
      if (messages.length > 0) await nextMacrotask();
    }
  }

  private wakeAll(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  stop(): void {
    this.stopped = true;
    this.stopping.abort();
    this.wakeAll();
  }

  /** Waits for the receives in flight (their messages go straight back), so none is left invisible for a lease. */
  async close(): Promise<void> {
    this.stop();
    await Promise.all(this.loops);
  }
}

export function createSqsTransport(url: URL, context: TransportContext): SqsTransport {
  return new SqsTransport(parseSqsUrl(url), context.logger);
}
