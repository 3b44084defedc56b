import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, GetMessage, Options } from 'amqplib';
import { ClosedError, ConfigurationError, ConnectionError, isSwitchyardError, ValidationError } from '@switchyard/core';
import { Deadlines, errorMessage, MAX_DELAY_MS, redactUrl, retrying, type RetryingOptions, settleOnce } from '@switchyard/core/spi';
import type { Capabilities, ConsumeOptions, Delivery, GroupPolicy, Inbox, Logger, PublishRequest } from '@switchyard/core/spi';
import type { Transport, TransportConsumer, TransportContext, WireMessage } from '@switchyard/core/spi';
import { acksOf } from './acks.js';
import { Attachment, type AttachmentSpec, REATTACH_WAIT_MS } from './attachment.js';
import { type ChannelSlot, channelErrors, channelSlot, Link } from './connection.js';
import { AmqpDeliveryParts, type Redeliveries } from './delivery.js';
import { DIRECT_REPLY_QUEUE, isDirectReplyAddress, learnReplyAddress, ReplyRoute } from './direct-reply.js';
import { delayBucket, names, type Names } from './names.js';
import { resolveConfig, type ResolvedConfig } from './options.js';
import { publish, publishConfirmed } from './send.js';
import { closeQuietly } from './util.js';
import { checkHeaderTable, DELAY_BUCKET_HEADER, DELIVERY_COUNT_HEADER, fromAmqp, toAmqp } from './wire.js';

/**
 * The native backstop on quorum queues: x-delivery-limit = max(20, 2 × maxAttempts) unless the
 * deliveryLimit URL option pins it. Core dead-letters after maxAttempts; RabbitMQ steps in only
 * when core cannot (a consumer crashing on a message before settling it). 20 is RabbitMQ 4's own
 * default, and every maxAttempts up to 10 gets the same limit, so changing it there never makes
 * an existing queue's arguments differ.
 */
export function deliveryLimitFor(maxAttempts: number): number {
  return Math.max(20, 2 * maxAttempts);
}

const NOTHING_YET = new Error('nothing to pull yet');

/** Headers amqplib cannot encode (a foreign message passed on keeps its own): refused before anything is sent. */
function refuseUnencodable(what: 'The reply to' | 'The message for', target: string, options: Options.Publish): void {
  const unencodable = checkHeaderTable((options.headers ?? {}) as Record<string, unknown>);
  if (unencodable !== undefined) throw new ValidationError(`${what} "${target}" cannot be sent over AMQP: ${unencodable}. Nothing was sent.`);
}

/** declareOnce keys of the exchanges and of a delay bucket. */
const EXCHANGES = 'exchanges';
const delayKey = (bucket: number) => `delay:${bucket}`;

/** The AMQP reply code an amqplib error carries (404 not found, 405 locked, 406 precondition failed...). */
const replyCode = (err: unknown): unknown => (err as { code?: unknown } | undefined)?.code;

/** A declaration a publish needs done on the current connection first (declareOnce key and how to run it). */
interface Prerequisite {
  readonly key: string;
  run(deadline: number): Promise<void>;
}

/** A queue declaration: the arguments to assert, or 'passive' (accept the queue as it is). */
type QueueShape = Options.AssertQueue | 'passive';

export class AmqpTransport implements Transport, Redeliveries {
  readonly name = 'amqp';
  readonly telemetry = { system: 'rabbitmq' }; // messaging.system, as the OpenTelemetry conventions name it
  readonly capabilities: Capabilities;
  readonly config: ResolvedConfig;
  readonly link: Link;
  readonly names: Names;
  readonly quorum: boolean;
  readonly logger: Logger;
  private readonly publisher: ChannelSlot<ConfirmChannel>;
  private readonly puller: ChannelSlot<Channel>;
  /** Replies: a plain channel, no confirms (see sendToInbox). */
  private readonly replier: ChannelSlot<Channel>;
  /** Every confirm's timeout, on one timer (not one per publish). */
  private readonly confirmDeadlines: Deadlines;
  /** Declarations in flight or done, and on which connection (a new one declares again). */
  private readonly declared = new Map<string, { conn: ChannelModel; done: Promise<void>; ok: boolean }>();
  /** Every group queue this transport declared (by queue name), declared again after a reconnect. */
  private readonly groups = new Map<string, { topic: string; group: string; policy: GroupPolicy | undefined }>();
  readonly attachments = new Set<Attachment>();
  /** This transport's inboxes, by the address core puts into its requests (their first token). */
  private readonly inboxes = new Map<string, ReplyRoute>();
  private drained: Promise<void> | undefined;
  /** True once close() began. */
  closed = false;
  /** What a publish to the topics exchange needs declared first (one object, not one per publish). */
  private readonly exchangesDeclared: Prerequisite = { key: EXCHANGES, run: (deadline) => this.ensureExchanges(deadline) };

  constructor(config: ResolvedConfig, url: URL, context: TransportContext) {
    this.config = config;
    this.logger = context.logger;
    this.names = names(config.options.prefix);
    this.quorum = config.options.queueType === 'quorum';
    this.publisher = channelSlot((conn) => conn.createConfirmChannel(), this.logger, 'publisher');
    this.puller = channelSlot((conn) => conn.createChannel(), this.logger, 'pull');
    this.replier = channelSlot((conn) => conn.createChannel(), this.logger, 'reply');
    this.confirmDeadlines = new Deadlines(Math.max(config.options.publishTimeoutMs, 5000));
    // redactUrl hides the password and secret options (passphrase, key); its result need not
    // parse as a URL again (a password with "/" makes it text), so it is used as is.
    this.link = new Link(config, redactUrl(url), context.service, context.logger);
    this.capabilities = {
      persistent: true,
      consumerGroups: true,
      fanOut: true,
      ordering: 'none',
      // Delayed nacks and publishes go through per-message-TTL delay buckets: any delay core allows.
      nack: 'delayed',
      maxNackDelayMs: MAX_DELAY_MS,
      redeliveryOnTimeout: false,
      // Quorum queues count every return (x-delivery-count), crashes included. Classic queues count
      // only nacks (the count rides through the delay bucket), not returns after a crash.
      deliveryCount: this.quorum ? 'exact' : 'approximate',
      // Quorum group queues dead-letter past their x-delivery-limit into the policy's topic.
      deadLetter: this.quorum ? 'native' : 'emulated',
      requestReply: 'native',
      noResponders: false,
      delay: 'native',
      maxNativeDelayMs: MAX_DELAY_MS,
      nativeDedup: false,
      batchPublish: false,
      maxPayloadBytes: config.options.maxPayloadBytes,
      maxHeaders: 64,
      // amqplib encodes the whole header table into one 64 KiB buffer; half of it leaves room for
      // the binding's longer names (cloudEvents_), table type tags and dead-letter headers.
      maxHeaderValueBytes: 32_768,
      maxHeaderBytes: 32_768,
    };
    this.link.on('reconnect', () => this.afterReconnect());
  }

  async connect(): Promise<void> {
    this.assertOpen();
    await this.link.connect();
    await this.ensureExchanges(Date.now() + this.config.options.connectTimeoutMs).catch(async (err: unknown) => {
      await this.link.close();
      throw err;
    });
  }

  // ---------------------------------------------------------------- publishing

  /**
   * Not an async function: the usual publish is one confirmPublish, and an async frame of its own
   * per publish (its promise and saved registers) was the adapter's largest allocation per message.
   */
  publish({ topic, message, delayMs }: PublishRequest): Promise<void> {
    try {
      this.assertOpen();
      const deadline = Date.now() + this.config.options.publishTimeoutMs;
      const { content, options } = toAmqp(message);
      // A request from our inbox whose consumer is still the one core was told about goes as it is.
      const route = options.replyTo === undefined ? undefined : this.inboxes.get(options.replyTo);
      if (route !== undefined && route.live !== options.replyTo) return this.publishFromReattachedInbox(route, topic, content, options, delayMs, deadline);
      return this.publishNowOrDelayed(topic, content, options, delayMs, deadline);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private publishNowOrDelayed(topic: string, content: Buffer, options: Options.Publish, delayMs: number | undefined, deadline: number): Promise<void> {
    if (delayMs !== undefined && delayMs > 0) return this.publishDelayed(topic, content, options, delayMs, deadline);
    return this.confirmPublish(this.names.topicsExchange, topic, content, options, deadline, this.exchangesDeclared);
  }

  private async publishFromReattachedInbox(
    route: ReplyRoute,
    topic: string,
    content: Buffer,
    options: Options.Publish,
    delayMs: number | undefined,
    deadline: number,
  ): Promise<void> {
    await this.replyToLiveInbox(route, options, deadline);
    await this.publishNowOrDelayed(topic, content, options, delayMs, deadline);
  }

  /**
   * A request naming one of our inboxes carries the token of its consumer now: the address core
   * was given dies with the inbox's first channel (a reconnect or channel error gives the inbox a
   * new consumer and token), and a reply sent there would be dropped.
   */
  private async replyToLiveInbox(route: ReplyRoute, options: Options.Publish, deadline: number): Promise<void> {
    const live = route.live ?? (await route.whenLive(deadline - Date.now()));
    options.replyTo = live; // a direct reply-to address travels in reply-to alone (toAmqp)
  }

  /** Through the delay bucket; on expiry RabbitMQ dead-letters it to the topics exchange with `routingKey`. */
  async publishDelayed(routingKey: string, content: Buffer, options: Options.Publish, delayMs: number, deadline: number): Promise<void> {
    const bucket = delayBucket(delayMs);
    const headers = { ...(options.headers as Record<string, unknown>), [DELAY_BUCKET_HEADER]: String(bucket) };
    const delayed: Options.Publish = { ...options, headers, expiration: String(Math.ceil(delayMs)) };
    await this.confirmPublish(this.names.delayExchange, routingKey, content, delayed, deadline, { key: delayKey(bucket), run: (until) => this.ensureDelayBucket(bucket, until) });
  }

  /**
   * A reply goes through the default exchange to the requester's direct reply-to consumer (or a
   * plain client's own reply queue), on a channel without confirms: it is not a durable message
   * (RabbitMQ drops a reply whose requester's channel is gone, and core drops one nobody waits for),
   * so a confirm would only add a round trip and a pending promise per reply. If the connection
   * drops before it reached the broker the requester gets RequestTimeoutError, as when the
   * requester's own connection drops.
   */
  async sendToInbox(address: string, message: WireMessage): Promise<void> {
    this.assertOpen();
    if (Buffer.byteLength(address) > 255) throw new ConfigurationError('Reply address is longer than 255 bytes; not an amqp inbox.');
    const { content, options } = toAmqp(message, undefined, false);
    refuseUnencodable('The reply to', address, options);
    // Connected with the reply channel open and nothing waiting for a drain (the usual case):
    // send at once; else (or if the channel turned out closed) through the retry loop.
    const conn = this.link.isOpen ? this.link.conn! : undefined;
    const ready = conn !== undefined && this.drained === undefined ? this.replier.ready(conn) : undefined;
    if (ready !== undefined && this.sendReply(ready, address, content, options)) return;
    const deadline = Date.now() + this.config.options.publishTimeoutMs;
    await this.persist(`Replying to "${address}"`, deadline, async () => {
      const conn = this.link.isOpen ? this.link.conn! : await this.link.whenOpen(deadline - Date.now());
      const ch = this.replier.ready(conn) ?? (await this.replier.get(conn));
      while (this.drained) await this.drained;
      if (!this.sendReply(ch, address, content, options)) throw new Error('the reply channel closed'); // retried on a fresh one
    });
  }

  /** One reply on `ch`: false if the channel is closed (try again on a fresh one). */
  private sendReply(ch: Channel, address: string, content: Buffer, options: Options.Publish): boolean {
    try {
      if (!publish(ch, '', address, content, options)) this.waitForDrain(ch);
      return true;
    } catch (err) {
      if ((err as Error | undefined)?.name === 'IllegalOperationError') return false;
      throw new ValidationError(`amqplib could not encode the reply to "${address}": ${errorMessage(err)}. Nothing was sent.`, [], { cause: err });
    }
  }

  /**
   * Publish and wait for the broker's confirm. If the connection drops first, wait for the
   * reconnect and publish again (until the deadline): the message may then arrive twice, never
   * zero times once this resolves.
   */
  private confirmPublish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish, deadline: number, prepare?: Prerequisite): Promise<void> {
    try {
      // Core refuses oversized metadata it publishes, but a foreign message passed on (delayed
      // redelivery) keeps the headers it came with: refuse what amqplib cannot encode, before it
      // counts the publish for a confirm.
      refuseUnencodable('The message for', routingKey, options);
    } catch (err) {
      return Promise.reject(err);
    }
    // The usual case — connected, topology declared on this connection, the channel open and not
    // waiting for a drain — publishes at once, without the retry loop's promises and closures (and
    // without an async frame: the largest allocation per message it had). A failure that can heal
    // (the channel or connection went away) continues in that loop.
    const conn = this.link.isOpen ? this.link.conn! : undefined;
    const ready = conn !== undefined && this.drained === undefined && (prepare === undefined || this.declaredOn(prepare.key, conn)) ? this.publisher.ready(conn) : undefined;
    if (ready === undefined) return this.confirmPublishRetrying(exchange, routingKey, content, options, deadline, prepare, undefined);
    return this.confirm(ready, exchange, routingKey, content, options, { deadline, prepare });
  }

  /** confirmPublish's retry loop; `failedOn` is the channel a first try failed on. */
  private async confirmPublishRetrying(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    deadline: number,
    prepare: Prerequisite | undefined,
    failedOn: ConfirmChannel | undefined,
  ): Promise<void> {
    let refusals = 0;
    let refusedLast: ConfirmChannel | undefined;
    // One refusal per channel: a try right after one may still find the dying channel.
    const countRefusal = (ch: ConfirmChannel) => {
      if (ch === refusedLast || !this.refusedBy(ch)) return;
      refusedLast = ch;
      refusals += 1;
    };
    if (failedOn !== undefined) countRefusal(failedOn);
    const attempt = async (): Promise<void> => {
      // Connected, topology declared on this connection and the channel open: publish without
      // awaiting anything first; else wait for each of them.
      const conn = this.link.isOpen ? this.link.conn! : await this.link.whenOpen(deadline - Date.now());
      if (prepare !== undefined && !this.declaredOn(prepare.key, conn)) await prepare.run(deadline);
      const ch = this.publisher.ready(conn) ?? (await this.publisher.get(conn));
      while (this.drained) await this.drained;
      await this.confirm(ch, exchange, routingKey, content, options).catch((err: unknown) => {
        countRefusal(ch);
        throw channelErrors.get(ch) ?? err;
      });
    };
    // A publish that is itself the cause of a refusal (e.g. over the broker's max message size,
    // exchange deleted) fails again: two tries on fresh channels after the first refusal.
    await this.persist(`Publishing to "${routingKey}" (not confirmed; retry the publish)`, deadline, attempt, { retryIf: () => refusals < 3 });
  }

  /**
   * Whether the broker closed `ch` with an error: because of this publish or of another one in
   * flight on it. Topology is then declared again before the next try.
   */
  private refusedBy(ch: ConfirmChannel): boolean {
    const refused = channelErrors.has(ch);
    if (refused) this.declared.clear();
    return refused;
  }

  /**
   * Core's retrying for an operation on the broker: amqplib's errors (a channel or the connection
   * went away) are retried until the deadline, Switchyard errors are final, and amqplib's last
   * error becomes a ConnectionError.
   */
  private async persist<T>(what: string, deadline: number, operation: () => Promise<T>, options: Partial<RetryingOptions> = {}): Promise<T> {
    const retryIf = (err: unknown, n: number) => !this.closed && !isSwitchyardError(err) && (options.retryIf?.(err, n) ?? true);
    try {
      return await retrying(operation, { initialDelayMs: 20, maxDelayMs: 500, ...options, deadlineMs: deadline - Date.now(), retryIf });
    } catch (err) {
      if (this.closed) throw new ClosedError('amqp transport');
      if (isSwitchyardError(err)) throw err;
      throw new ConnectionError(`${what} on RabbitMQ at ${this.link.where} failed: ${this.link.scrub(errorMessage(err))}`, { cause: err });
    }
  }

  /**
   * One publish on `ch`, resolved by its confirm. With `retry` (a first try), a failure that can
   * heal continues in confirmPublishRetrying instead of rejecting; Switchyard errors (a timeout, a
   * nack, a message amqplib cannot encode) are final either way.
   */
  private confirm(
    ch: ConfirmChannel,
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    retry?: { deadline: number; prepare: Prerequisite | undefined },
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (err: unknown) => {
        // Once: a publish that timed out must not be retried when its channel closes later.
        if (failed) return;
        failed = true;
        if (retry === undefined || isSwitchyardError(err)) reject(err);
        else this.confirmPublishRetrying(exchange, routingKey, content, options, retry.deadline, retry.prepare, ch).then(resolve, reject);
      };
      // A blocked connection (resource alarm) or a stuck broker must not hang publish for ever.
      const deadline = this.confirmDeadlines.add(() => {
        const { withinMs } = this.confirmDeadlines;
        fail(
          new ConnectionError(
            `RabbitMQ did not confirm the publish to "${routingKey}" within ${withinMs} ms (is the connection blocked by a resource alarm?). It may still arrive; retry the publish if it must.`,
          ),
        );
      });
      const settle = (err: unknown) => {
        deadline.clear();
        if (!err) resolve();
        else if (errorMessage(err) !== 'message nacked') fail(err);
        else fail(new ConnectionError(`RabbitMQ refused the message for "${routingKey}" (publisher nack); it was not stored. Retry the publish.`, { cause: err }));
      };
      try {
        if (!publishConfirmed(ch, exchange, routingKey, content, options, settle)) this.waitForDrain(ch);
      } catch (err) {
        // A closed channel refuses at once (IllegalOperationError): retried. Anything else failed
        // while encoding, after amqplib had counted this publish for a confirm: the channel's
        // numbering is now one ahead of the broker's, so every later confirm on it would settle the
        // wrong publish. Retire it; publishes in flight on it are retried.
        if ((err as Error | undefined)?.name === 'IllegalOperationError') return settle(err);
        this.publisher.discard(ch);
        settle(new ValidationError(`amqplib could not encode the message for "${routingKey}": ${errorMessage(err)}. Nothing was sent.`, [], { cause: err }));
      }
    });
  }

  private waitForDrain(ch: Channel): void {
    this.drained ??= new Promise<void>((resolve) => {
      const done = () => {
        ch.off('drain', done).off('close', done);
        this.drained = undefined;
        resolve();
      };
      ch.on('drain', done).on('close', done);
    });
  }

  // ---------------------------------------------------------------- topology

  async declareGroup(topic: string, group: string, policy?: GroupPolicy): Promise<void> {
    this.assertOpen();
    await this.ensureGroup(topic, group, policy, Date.now() + REATTACH_WAIT_MS);
  }

  /**
   * The group's queue, shaped by its policy and the URL options, bound with routing key = topic
   * and = its own name (for delayed redelivery). `fresh`: declare again even if done on this connection.
   */
  async ensureGroup(topic: string, group: string, policy: GroupPolicy | undefined, deadline: number, fresh = false): Promise<string> {
    const queue = this.names.groupQueue(topic, group);
    const { deliveryLimit } = this.config.options;
    if (policy !== undefined && deliveryLimit !== undefined && deliveryLimit < policy.maxAttempts) {
      throw new ConfigurationError(
        `amqp URL option deliveryLimit=${deliveryLimit} is below maxAttempts ${policy.maxAttempts} of group "${group}" on "${topic}": RabbitMQ would drop or dead-letter messages core still means to retry. ` +
          `Raise deliveryLimit to at least ${policy.maxAttempts}, or leave it out (the limit then follows maxAttempts).`,
      );
    }
    await this.ensureExchanges(deadline);
    const shapes = this.queueShapes(policy);
    const key = `queue:${queue}:${JSON.stringify(shapes)}`;
    await this.declareOnce(key, deadline, fresh, async (conn) => {
      await this.declareQueue(conn, queue, group, shapes);
      await this.withChannel(conn, async (ch) => {
        await ch.bindQueue(queue, this.names.topicsExchange, topic);
        await ch.bindQueue(queue, this.names.topicsExchange, queue);
      });
    });
    this.groups.set(queue, { topic, group, policy });
    return queue;
  }

  /**
   * How a group queue may be declared, preferred first. Ephemeral: a classic queue that goes away
   * with its consumer or connection. With a policy on quorum queues: the delivery-limit backstop,
   * dead-lettering into the policy's topic; else (or for a queue made before group policies) what
   * the URL options alone ask for. Without a policy (a dead-letter topic's group): that, or
   * whatever queue exists.
   */
  private queueShapes(policy: GroupPolicy | undefined): QueueShape[] {
    if (policy?.ephemeral) return [{ durable: false, exclusive: true, autoDelete: true, arguments: { 'x-queue-type': 'classic' } }];
    const { queueType, queueExpiresMs, deliveryLimit } = this.config.options;
    const plain: Record<string, unknown> = { 'x-queue-type': queueType };
    if (queueExpiresMs !== undefined) plain['x-expires'] = queueExpiresMs;
    if (deliveryLimit !== undefined) plain['x-delivery-limit'] = deliveryLimit;
    const durable = (args: Record<string, unknown>) => ({ durable: true, arguments: args });
    if (policy === undefined) return [durable(plain), 'passive'];
    if (!this.quorum) return [durable(plain)];
    const backstop = { ...plain, 'x-delivery-limit': deliveryLimit ?? deliveryLimitFor(policy.maxAttempts) };
    if (policy.deadLetterTopic !== false) Object.assign(backstop, { 'x-dead-letter-exchange': this.names.topicsExchange, 'x-dead-letter-routing-key': policy.deadLetterTopic });
    return [durable(backstop), durable(plain)];
  }

  /** Declare `queue` in the first shape RabbitMQ accepts. It refuses (406) one that differs from the existing queue and closes the channel: each try gets its own. */
  private async declareQueue(conn: ChannelModel, queue: string, group: string, shapes: QueueShape[]): Promise<void> {
    const refusals: string[] = [];
    for (const shape of shapes) {
      try {
        await this.withChannel(conn, (ch) => (shape === 'passive' ? ch.checkQueue(queue) : ch.assertQueue(queue, shape)));
        if (refusals.length > 0) this.logger.debug('Group queue exists without a delivery-limit backstop (made before group policies, or for a dead-letter topic)', { queue });
        return;
      } catch (err) {
        if (replyCode(err) !== 406) throw err;
        refusals.push(errorMessage(err).replace(/^.*PRECONDITION_FAILED - (.*?)"?$/, '$1'));
      }
    }
    const wanted = shapes[0] === 'passive' ? {} : { ...shapes[0]?.arguments, durable: shapes[0]?.durable };
    throw new ConfigurationError(
      `RabbitMQ already has queue "${queue}" with different settings (${refusals.join('; ')}); this consumer asks for ${JSON.stringify(wanted)}. ` +
        `A queue keeps the arguments it was created with: x-queue-type and x-expires come from the URL options queueType and queueExpiresMs, x-delivery-limit from maxAttempts (or deliveryLimit), x-dead-letter-* from deadLetter. ` +
        `Every consumer of group "${group}" must use the same ones: change them back, or delete the queue once drained, or use another group name.`,
    );
  }

  ensureExchanges(deadline: number): Promise<void> {
    return this.declareOnce(EXCHANGES, deadline, false, (conn) =>
      this.withChannel(conn, async (ch) => {
        await ch.assertExchange(this.names.topicsExchange, 'direct', { durable: true });
        await ch.assertExchange(this.names.delayExchange, 'headers', { durable: true });
      }),
    );
  }

  private async ensureDelayBucket(bucket: number, deadline: number): Promise<void> {
    await this.ensureExchanges(deadline);
    const queue = this.names.delayQueue(bucket);
    await this.declareOnce(delayKey(bucket), deadline, false, (conn) =>
      this.withChannel(conn, async (ch) => {
        await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic', 'x-dead-letter-exchange': this.names.topicsExchange } });
        await ch.bindQueue(queue, this.names.delayExchange, '', { 'x-match': 'all', [DELAY_BUCKET_HEADER]: String(bucket) });
      }),
    );
  }

  /** Whether the declaration `key` completed on `conn` (nothing to wait for). */
  private declaredOn(key: string, conn: ChannelModel): boolean {
    const entry = this.declared.get(key);
    return entry !== undefined && entry.conn === conn && entry.ok;
  }

  /** Run a declaration once per connection; retried across reconnects until the deadline. */
  private async declareOnce(key: string, deadline: number, fresh: boolean, declare: (conn: ChannelModel) => Promise<void>): Promise<void> {
    const attempt = async (): Promise<void> => {
      const conn = await this.link.whenOpen(deadline - Date.now());
      let entry = this.declared.get(key);
      if (fresh || entry?.conn !== conn) {
        fresh = false;
        const done: Promise<void> = declare(conn).catch((err: unknown) => {
          if (this.declared.get(key)?.done === done) this.declared.delete(key);
          // Only the declaration that made the broker close the channel carries the reply code.
          if (replyCode(err) !== 406) throw err;
          throw new ConfigurationError(`RabbitMQ already has this exchange or queue with different settings (${errorMessage(err)}); delete it, or use another prefix.`, {
            cause: err,
          });
        });
        const created = { conn, done, ok: false };
        done.then(
          () => (created.ok = true),
          () => undefined,
        );
        entry = created;
        this.declared.set(key, entry);
      }
      await entry.done;
    };
    // A refusal on a live connection that persists is the broker's answer, not an outage.
    await this.persist('Declaring topology', deadline, attempt, { retryIf: (_err, n) => !(this.link.isOpen && n >= 3) });
  }

  /** Run `use` on a channel of its own: a refused declaration or a 404 closes that one only. */
  private async withChannel<T>(conn: ChannelModel, use: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // the refusal also rejects the operation, where it is handled
    try {
      return await use(ch);
    } finally {
      await closeQuietly(ch);
    }
  }

  private afterReconnect(): void {
    if (this.closed) return;
    for (const { topic, group, policy } of this.groups.values()) {
      // Ephemeral ones come back with their consumer (or not at all).
      if (policy?.ephemeral) continue;
      this.ensureGroup(topic, group, policy, Date.now() + REATTACH_WAIT_MS).catch((err: unknown) =>
        this.logger.warn('Re-declaring a group queue after reconnect failed', { topic, group, error: errorMessage(err) }),
      );
    }
    for (const attachment of this.attachments) attachment.resume();
  }

  /**
   * Whether the group's queue exists; without a group, whether `topic` names a queue or a live
   * direct reply-to consumer (an inbox address: RabbitMQ answers a passive declare of one while its
   * channel consumes, 404 after). A plain topic is only a routing key on the shared exchange: nothing to find.
   */
  async exists(topic: string, group?: string): Promise<boolean> {
    this.assertOpen();
    const queue = group !== undefined ? this.names.groupQueue(topic, group) : topic.includes('/') || isDirectReplyAddress(topic) ? topic : undefined;
    if (queue === undefined) return false;
    const check = async (): Promise<boolean> => {
      const conn = await this.link.whenOpen(this.config.options.connectTimeoutMs);
      return this.withChannel(conn, (ch) => ch.checkQueue(queue)).then(
        () => true,
        (err: unknown) => {
          // 405: exclusive to another connection (someone's inbox), so it exists.
          if (replyCode(err) === 404 || replyCode(err) === 405) return replyCode(err) === 405;
          throw err;
        },
      );
    };
    return this.persist(`Checking for queue "${queue}"`, Date.now() + this.config.options.connectTimeoutMs, check);
  }

  /** Delete the group's queue and whatever it still holds. */
  async deleteGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    const queue = this.names.groupQueue(topic, group);
    this.groups.delete(queue);
    this.declared.clear();
    const conn = await this.link.whenOpen(this.config.options.publishTimeoutMs);
    await this.withChannel(conn, (ch) => ch.deleteQueue(queue));
  }

  // ---------------------------------------------------------------- consuming

  async consume(topic: string, group: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    let queue = '';
    return this.attach({
      what: `${topic} (group ${group})`,
      prefetch: Math.max(1, Math.min(options.prefetch, this.config.options.maxPrefetch)),
      consume: { noAck: false },
      setup: async (_ch, resumed) => (queue = await this.ensureGroup(topic, group, options.policy, Date.now() + REATTACH_WAIT_MS, resumed)),
      onMessage: (ch, msg) => onDelivery(this.delivery(ch, msg, queue)),
    });
  }

  /** basic.get until something comes or waitMs is over, pausing 10 ms doubling to 200 ms in between. */
  async pull(topic: string, group: string, options: { max: number; waitMs: number; signal?: AbortSignal }): Promise<Delivery[]> {
    this.assertOpen();
    const deadline = Date.now() + options.waitMs;
    const policy = this.groups.get(this.names.groupQueue(topic, group))?.policy;
    const out: Delivery[] = [];
    const attempt = async () => {
      // Declared once per connection, again after a failure (a queue deleted under us).
      const queue = await this.ensureGroup(topic, group, policy, Math.max(deadline, Date.now() + 5000));
      const conn = await this.link.whenOpen(Math.max(0, deadline - Date.now()), options.signal);
      try {
        const ch = await this.puller.get(conn);
        while (out.length < options.max) {
          const msg = await ch.get(queue, { noAck: false });
          if (msg === false) break;
          out.push(this.delivery(ch, msg, queue));
        }
      } catch (err) {
        if (out.length > 0) return; // settling them on a dead channel is harmless: they come back
        this.declared.clear();
        throw err;
      }
      if (out.length === 0) throw NOTHING_YET;
    };
    try {
      await this.persist(`Pulling from "${topic}"`, deadline, attempt, { initialDelayMs: 10, maxDelayMs: 200, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (err) {
      if ((err as Error).cause !== NOTHING_YET && !this.closed && !options.signal?.aborted) throw err;
    }
    return out;
  }

  /** A received message as a core Delivery, settled once, on the channel it came from. */
  delivery(ch: Channel, msg: ConsumeMessage | GetMessage, queue: string): Delivery {
    // Announced before anything else can throw: an unannounced tag could be settled by a later
    // ack with `multiple` (acks.ts), an announced one that is never settled only stops that.
    const acks = acksOf(ch, this.settledOnClosedChannel);
    const tag = msg.fields.deliveryTag;
    acks.delivered(tag);
    const { wire, previousDeliveries } = fromAmqp(msg, this.quorum);
    return settleOnce(new AmqpDeliveryParts(wire, previousDeliveries + 1, acks, tag, queue, this));
  }

  /** Settling on a channel that died is moot (amqplib throws): RabbitMQ redelivers those messages. */
  private readonly settledOnClosedChannel = (err: unknown) => this.logger.debug('Settling on a closed channel; RabbitMQ redelivers the message', { error: errorMessage(err) });

  /** A delayed nack: a confirmed copy into the delay bucket, carrying the deliveries used so far. */
  async redeliverLater(queue: string, message: WireMessage, deliveryCount: number, delayMs: number): Promise<void> {
    const out = toAmqp(message, { [DELIVERY_COUNT_HEADER]: String(deliveryCount) });
    await this.publishDelayed(queue, out.content, out.options, delayMs, Date.now() + this.config.options.publishTimeoutMs);
  }

  // ---------------------------------------------------------------- request/reply

  /**
   * A direct reply-to consumer on a channel of its own: no queue to declare or delete. Its address
   * is the consumer's token; after a reconnect or a channel error it consumes again under a new
   * token, which requests naming the inbox carry from then on (replyToLiveInbox).
   */
  async createInbox(onMessage: (message: WireMessage) => void): Promise<Inbox> {
    const route = new ReplyRoute();
    const inbox = await this.attach({
      what: 'request inbox (direct reply-to)',
      consume: { noAck: true },
      setup: async () => DIRECT_REPLY_QUEUE,
      consuming: async (ch) => route.attached(ch, await learnReplyAddress(ch, this.config.options.connectTimeoutMs)),
      onMessage: (_ch, msg) => {
        try {
          onMessage(fromAmqp(msg, false).wire);
        } catch (err) {
          this.logger.warn('Handling a reply failed', { error: errorMessage(err) });
        }
      },
    });
    const address = route.live!;
    this.inboxes.set(address, route);
    return {
      address,
      close: async () => {
        this.inboxes.delete(address);
        await inbox.close();
      },
    };
  }

  private async attach(spec: AttachmentSpec): Promise<Attachment> {
    this.assertOpen();
    const attachment = new Attachment({ ...spec, transport: this });
    this.attachments.add(attachment);
    try {
      await attachment.attach();
    } catch (err) {
      await attachment.close();
      throw err;
    }
    return attachment;
  }

  // ---------------------------------------------------------------- lifecycle

  async health(): Promise<{ ok: boolean; details: Record<string, unknown> }> {
    const { config, link } = this;
    return {
      ok: !this.closed && link.isOpen,
      details: {
        state: this.closed ? 'closed' : link.state,
        host: `${config.hostname}:${config.port}`,
        vhost: config.vhost,
        tls: config.protocol === 'amqps',
        server: link.server,
        queueType: config.options.queueType,
        consumers: this.attachments.size,
        reconnects: link.reconnects,
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.attachments].map((a) => a.close()));
    await Promise.allSettled([this.puller.close(), this.publisher.close(), this.replier.close()]);
    await this.link.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('amqp transport');
  }
}

export function createAmqpTransport(url: URL, context: TransportContext): AmqpTransport {
  return new AmqpTransport(resolveConfig(url), url, context);
}
