import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, GetMessage, Options } from 'amqplib';
import {
  ClosedError,
  ConfigurationError,
  ConnectionError,
  type Capabilities,
  type Delivery,
  type Inbox,
  type Logger,
  type PublishRequest,
  type Transport,
  type TransportConsumer,
  type TransportContext,
  ValidationError,
  type WireMessage,
} from '@switchyard/core';
import { errorMessage, MAX_DELAY_MS, sleep, redactUrl } from '@switchyard/core/spi';
import { ChannelSlot, channelErrors, Link } from './connection.js';
import { delayBucket, names, type Names } from './names.js';
import { resolveConfig, type ResolvedConfig } from './options.js';
import { closeQuietly } from './util.js';
import { checkHeaderTable, DELAY_BUCKET_HEADER, DELIVERY_COUNT_HEADER, fromAmqp, toAmqp } from './wire.js';

/** How long consumers, pulls and topology declarations wait for a reconnect before giving up an attempt. */
const REATTACH_WAIT_MS = 60_000;

/** ch.publish threw while encoding: nothing was sent, but amqplib had already counted it for a confirm. */
class EncodeFailure extends Error {
  constructor(override readonly cause: unknown) {
    super(`encoding failed: ${errorMessage(cause)}`);
  }
}

class ConfirmTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no publisher confirm within ${ms} ms`);
  }
}

export class AmqpTransport implements Transport {
  readonly name = 'amqp';
  readonly capabilities: Capabilities;
  readonly link: Link;
  readonly names: Names;
  readonly quorum: boolean;
  readonly logger: Logger;
  private readonly publisher: ChannelSlot<ConfirmChannel>;
  private readonly admin: ChannelSlot<Channel>;
  private readonly puller: ChannelSlot<Channel>;
  /** Declarations done on the current connection (key → in-flight or done). */
  private asserted = new Map<string, Promise<void>>();
  private assertedGeneration = -1;
  /** Every group queue this transport declared, re-declared after a reconnect. */
  private readonly knownGroups = new Map<string, { topic: string; group: string }>();
  readonly attachments = new Set<Attachment>();
  private drained: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly config: ResolvedConfig,
    url: URL,
    context: TransportContext,
  ) {
    this.logger = context.logger;
    // redactUrl hides the password and secret options (passphrase, key); its result need not
    // parse as a URL again (a password with "/" makes it text), so it is used as is.
    this.link = new Link(config, redactUrl(url), context.service, context.logger);
    this.names = names(config.options.prefix);
    this.quorum = config.options.queueType === 'quorum';
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
      deadLetter: 'emulated',
      requestReply: 'native',
      noResponders: false,
      delay: 'native',
      maxNativeDelayMs: MAX_DELAY_MS,
      nativeDedup: false,
      batchPublish: false,
      maxPayloadBytes: config.options.maxPayloadBytes,
      maxHeaders: 64,
      // amqplib encodes the whole header table into one 64 KiB buffer; half of it leaves room for
      // the binding's longer names (cloudEvents:), table type tags and dead-letter headers.
      maxHeaderValueBytes: 32_768,
      maxHeaderBytes: 32_768,
    };
    this.publisher = new ChannelSlot((conn) => conn.createConfirmChannel(), this.logger, 'publisher');
    this.admin = new ChannelSlot((conn) => conn.createChannel(), this.logger, 'topology');
    this.puller = new ChannelSlot((conn) => conn.createChannel(), this.logger, 'pull');
    this.link.onReconnect(() => this.afterReconnect());
  }

  async connect(): Promise<void> {
    this.assertOpen();
    await this.link.connect();
    try {
      await this.ensureExchanges(Date.now() + this.config.options.connectTimeoutMs);
    } catch (err) {
      await this.link.close();
      throw err;
    }
  }

  // ---------------------------------------------------------------- publishing

  async publish({ topic, message, delayMs }: PublishRequest): Promise<void> {
    this.assertOpen();
    const deadline = Date.now() + this.config.options.publishTimeoutMs;
    const out = toAmqp(message);
    if (delayMs !== undefined && delayMs > 0) {
      await this.publishDelayed(topic, out.content, out.options, delayMs, deadline);
      return;
    }
    await this.confirmPublish(this.names.topicsExchange, topic, out.content, out.options, deadline, () => this.ensureExchanges(deadline));
  }

  /** Through the delay bucket; on expiry RabbitMQ dead-letters it to the topics exchange with `routingKey`. */
  async publishDelayed(routingKey: string, content: Buffer, options: Options.Publish, delayMs: number, deadline: number): Promise<void> {
    const bucket = delayBucket(delayMs);
    const headers = { ...(options.headers as Record<string, unknown>), [DELAY_BUCKET_HEADER]: String(bucket) };
    const delayed: Options.Publish = { ...options, headers, expiration: String(Math.ceil(delayMs)) };
    await this.confirmPublish(this.names.delayExchange, routingKey, content, delayed, deadline, () => this.ensureDelayBucket(bucket, deadline));
  }

  async sendToInbox(address: string, message: WireMessage): Promise<void> {
    this.assertOpen();
    if (Buffer.byteLength(address) > 255) throw new ConfigurationError('Reply address is longer than 255 bytes; not an amqp inbox.');
    const out = toAmqp(message, {}, false);
    await this.confirmPublish('', address, out.content, out.options, Date.now() + this.config.options.publishTimeoutMs);
  }

  /**
   * Publish and wait for the broker's confirm. If the connection drops first, wait for the
   * reconnect and publish again (until the deadline): the message may then arrive twice, never
   * zero times once this resolves.
   */
  private async confirmPublish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish, deadline: number, prepare?: () => Promise<void>): Promise<void> {
    // Core refuses oversized metadata it publishes, but a foreign message passed on (delayed
    // redelivery) keeps the headers it came with: refuse what amqplib cannot encode, before it
    // counts the publish for a confirm.
    const unencodable = checkHeaderTable((options.headers ?? {}) as Record<string, unknown>);
    if (unencodable !== undefined) {
      throw new ValidationError(`The message for "${routingKey}" cannot be sent over AMQP: ${unencodable}. Nothing was sent; send fewer or shorter headers.`);
    }
    for (let attempt = 1; ; attempt++) {
      const conn = await this.link.whenOpen(deadline - Date.now());
      let ch: ConfirmChannel | undefined;
      try {
        await prepare?.();
        ch = await this.publisher.get(conn);
        while (this.drained) await this.drained;
        const confirmWithinMs = Math.max(this.config.options.publishTimeoutMs, 5000);
        await new Promise<void>((resolve, reject) => {
          // A blocked connection (resource alarm) or a stuck broker must not hang publish for ever.
          const timer = setTimeout(() => reject(new ConfirmTimeout(confirmWithinMs)), confirmWithinMs);
          try {
            const flowing = ch!.publish(exchange, routingKey, content, options, (err: unknown) => {
              clearTimeout(timer);
              if (err) reject(err);
              else resolve();
            });
            if (!flowing) this.waitForDrain(ch!);
          } catch (err) {
            clearTimeout(timer);
            // A closed channel refuses at once (IllegalOperationError): retried below. Anything
            // else failed while encoding, after amqplib had counted this publish for a confirm.
            reject((err as Error | undefined)?.name === 'IllegalOperationError' ? err : new EncodeFailure(err));
          }
        });
        return;
      } catch (err) {
        if (err instanceof ClosedError || this.closed) throw new ClosedError('amqp transport');
        if (err instanceof EncodeFailure) {
          // The channel's confirm numbering is now one ahead of the broker's: every later confirm
          // on it would settle the wrong publish. Retire it; publishes in flight on it are retried.
          this.publisher.discard(ch!);
          throw new ValidationError(`amqplib could not encode the message for "${routingKey}": ${errorMessage(err.cause)}. Nothing was sent.`, [], { cause: err.cause });
        }
        const message = errorMessage(err);
        if (ch === undefined && err instanceof ConnectionError && this.link.isOpen) throw err; // topology refused
        if (err instanceof ConfirmTimeout) {
          throw new ConnectionError(
            `RabbitMQ did not confirm the publish to "${routingKey}" within ${err.ms} ms (is the connection blocked by a resource alarm?). It may still arrive; retry the publish if it must.`,
            { cause: err },
          );
        }
        if (message === 'message nacked') {
          throw new ConnectionError(`RabbitMQ refused the message for "${routingKey}" (publisher nack); it was not stored. Retry the publish.`, { cause: err });
        }
        const serverError = ch === undefined ? undefined : channelErrors.get(ch);
        if (serverError !== undefined || err instanceof ConfigurationError) {
          // The broker closed the channel: because of this publish (e.g. over its max message size,
          // exchange deleted) or of another one in flight on the same channel. Try again on a fresh
          // channel with topology re-declared; a publish that is itself the cause fails again.
          this.forgetTopology();
          if (attempt < 3 && !(err instanceof ConfigurationError) && Date.now() < deadline) continue;
          throw err instanceof ConfigurationError
            ? err
            : new ConnectionError(`RabbitMQ rejected the publish to "${routingKey}": ${this.link.scrub(errorMessage(serverError ?? err))}`, { cause: err });
        }
        if (Date.now() >= deadline) {
          throw new ConnectionError(
            `Publishing to "${routingKey}" on RabbitMQ at ${this.link.where} was not confirmed before the connection was lost: ${this.link.scrub(message)}. Retry the publish.`,
            { cause: err },
          );
        }
        // Connection going away: wait for the reconnect and publish again.
        await sleep(20);
      }
    }
  }

  private waitForDrain(ch: ConfirmChannel): void {
    if (this.drained) return;
    this.drained = new Promise<void>((resolve) => {
      const done = () => {
        ch.off('drain', done);
        ch.off('close', done);
        this.drained = undefined;
        resolve();
      };
      ch.on('drain', done);
      ch.on('close', done);
    });
  }

  // ---------------------------------------------------------------- topology

  async declareGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    await this.ensureGroup(topic, group, Date.now() + REATTACH_WAIT_MS);
  }

  /** Exchanges, the group's queue, and its bindings: routing key = topic, and = its own name (for delayed redelivery). */
  async ensureGroup(topic: string, group: string, deadline: number): Promise<string> {
    const queue = this.names.groupQueue(topic, group);
    this.knownGroups.set(queue, { topic, group });
    await this.ensureExchanges(deadline);
    const args: Record<string, unknown> = { 'x-queue-type': this.quorum ? 'quorum' : 'classic' };
    if (this.config.options.deliveryLimit !== undefined) args['x-delivery-limit'] = this.config.options.deliveryLimit;
    if (this.config.options.queueExpiresMs !== undefined) args['x-expires'] = this.config.options.queueExpiresMs;
    await this.assertOnce(`queue:${queue}`, deadline, async (ch) => {
      await ch.assertQueue(queue, { durable: true, arguments: args });
      await ch.bindQueue(queue, this.names.topicsExchange, topic);
      await ch.bindQueue(queue, this.names.topicsExchange, queue);
    });
    return queue;
  }

  ensureExchanges(deadline: number): Promise<void> {
    return this.assertOnce('exchanges', deadline, async (ch) => {
      await ch.assertExchange(this.names.topicsExchange, 'direct', { durable: true });
      await ch.assertExchange(this.names.delayExchange, 'headers', { durable: true });
    });
  }

  private async ensureDelayBucket(bucket: number, deadline: number): Promise<void> {
    await this.ensureExchanges(deadline);
    const queue = this.names.delayQueue(bucket);
    await this.assertOnce(`delay:${bucket}`, deadline, async (ch) => {
      await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic', 'x-dead-letter-exchange': this.names.topicsExchange } });
      await ch.bindQueue(queue, this.names.delayExchange, '', { 'x-match': 'all', [DELAY_BUCKET_HEADER]: String(bucket) });
    });
  }

  /** Run a declaration once per connection; retried across reconnects until the deadline. */
  private async assertOnce(key: string, deadline: number, declare: (ch: Channel) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const conn = await this.link.whenOpen(deadline - Date.now());
      if (this.assertedGeneration !== this.link.generation) {
        this.asserted = new Map();
        this.assertedGeneration = this.link.generation;
      }
      let pending = this.asserted.get(key);
      if (pending === undefined) {
        const cache = this.asserted;
        pending = this.declareOn(conn, declare);
        cache.set(key, pending);
        pending.catch(() => {
          if (cache.get(key) === pending) cache.delete(key);
        });
      }
      try {
        await pending;
        return;
      } catch (err) {
        if (err instanceof ConfigurationError || err instanceof ClosedError || this.closed) throw err;
        if (this.link.conn === conn && this.link.isOpen && attempt >= 3) {
          // The connection is fine, so the broker keeps refusing the declaration.
          throw new ConnectionError(`Declaring RabbitMQ topology failed: ${this.link.scrub(errorMessage(err))}`, { cause: err });
        }
        if (Date.now() >= deadline) throw new ConnectionError(`RabbitMQ at ${this.link.where} went away while declaring topology: ${errorMessage(err)}`, { cause: err });
        await sleep(20);
      }
    }
  }

  private async declareOn(conn: ChannelModel, declare: (ch: Channel) => Promise<void>): Promise<void> {
    const ch = await this.admin.get(conn);
    try {
      await declare(ch);
    } catch (err) {
      // Only the operation that made the broker close the channel carries its reply code; others
      // sharing the channel just see "Channel ended" and are retried on a fresh one.
      if ((err as { code?: unknown }).code === 406) {
        throw new ConfigurationError(
          `RabbitMQ already has this queue or exchange with different settings (${errorMessage(err)}). ` +
            `Queues made by another queueType/deliveryLimit/queueExpiresMs keep their arguments: use the same URL options, or delete the old queue.`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  private forgetTopology(): void {
    this.asserted = new Map();
  }

  private afterReconnect(): void {
    if (this.closed) return;
    const deadline = Date.now() + REATTACH_WAIT_MS;
    for (const { topic, group } of this.knownGroups.values()) {
      this.ensureGroup(topic, group, deadline).catch((err: unknown) =>
        this.logger.warn('Re-declaring a group queue after reconnect failed', { topic, group, error: errorMessage(err) }),
      );
    }
    for (const attachment of this.attachments) attachment.resume();
  }

  // ---------------------------------------------------------------- consuming

  async consume(topic: string, group: string, options: { prefetch: number }, onDelivery: (delivery: Delivery) => void): Promise<TransportConsumer> {
    this.assertOpen();
    const prefetch = Math.max(1, Math.min(options.prefetch, this.config.options.maxPrefetch));
    const consumer = new GroupConsumer(this, topic, group, prefetch, onDelivery);
    this.attachments.add(consumer);
    try {
      await consumer.attach(Date.now() + REATTACH_WAIT_MS);
    } catch (err) {
      this.attachments.delete(consumer);
      await consumer.close();
      throw err;
    }
    return consumer;
  }

  async pull(topic: string, group: string, options: { max: number; waitMs: number; signal?: AbortSignal }): Promise<Delivery[]> {
    this.assertOpen();
    const deadline = Date.now() + options.waitMs;
    const queue = await this.ensureGroup(topic, group, Math.max(deadline, Date.now() + 5000));
    let pause = 10;
    for (;;) {
      const out: Delivery[] = [];
      try {
        const conn = await this.link.whenOpen(Math.max(0, deadline - Date.now()), options.signal);
        const ch = await this.puller.get(conn);
        while (out.length < options.max) {
          const msg = await ch.get(queue, { noAck: false });
          if (msg === false) break;
          out.push(this.delivery(ch, msg, queue));
        }
      } catch (err) {
        if (out.length > 0) return out; // settling them on a dead channel is harmless: they come back
        if (this.closed || options.signal?.aborted) return [];
        if (Date.now() >= deadline) {
          if (err instanceof ConnectionError) throw err;
          throw new ConnectionError(`Pulling from "${topic}" on RabbitMQ at ${this.link.where} failed: ${this.link.scrub(errorMessage(err))}`, { cause: err });
        }
        // A server-side error (queue deleted under us) or a reconnect: declare again and retry.
        this.forgetTopology();
        await this.ensureGroup(topic, group, Math.max(deadline, Date.now() + 5000)).catch(() => undefined);
      }
      if (out.length > 0) return out;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || options.signal?.aborted || this.closed) return [];
      await sleep(Math.min(pause, remaining), options.signal);
      pause = Math.min(pause * 2, 200);
    }
  }

  /** A received message as a core Delivery, settled on the channel it came from. */
  delivery(ch: Channel, msg: ConsumeMessage | GetMessage, queue: string): Delivery {
    const { wire, previousDeliveries } = fromAmqp(msg, this.quorum);
    const deliveryCount = previousDeliveries + 1;
    let settled = false;
    const once = (): boolean => {
      if (settled) return false;
      settled = true;
      return true;
    };
    const requeue = () => this.onChannel(() => ch.nack(msg, false, true));
    return {
      message: wire,
      deliveryCount,
      ack: async () => {
        if (once()) this.onChannel(() => ch.ack(msg));
      },
      abandon: async () => {
        if (once()) requeue();
      },
      nack: async ({ delayMs }) => {
        if (!once()) return;
        if (delayMs <= 0) return requeue();
        // Delayed redelivery without holding the message here: a confirmed copy into the delay
        // bucket (carrying the deliveries used so far), then ack the original.
        try {
          const out = toAmqp(wire, { [DELIVERY_COUNT_HEADER]: String(deliveryCount) });
          await this.publishDelayed(queue, out.content, out.options, delayMs, Date.now() + this.config.options.publishTimeoutMs);
        } catch (err) {
          this.logger.warn('Could not schedule a delayed redelivery; requeueing at once', { queue, error: errorMessage(err) });
          return requeue();
        }
        this.onChannel(() => ch.ack(msg));
      },
    };
  }

  /** Acks on a channel that died are moot: RabbitMQ redelivers those messages. */
  private onChannel(action: () => void): void {
    try {
      action();
    } catch (err) {
      this.logger.debug('Settling on a closed channel; RabbitMQ redelivers the message', { error: errorMessage(err) });
    }
  }

  // ---------------------------------------------------------------- request/reply

  async createInbox(onMessage: (message: WireMessage) => void): Promise<Inbox> {
    this.assertOpen();
    const inbox = new InboxConsumer(this, this.names.inboxQueue(randomUUID()), onMessage);
    this.attachments.add(inbox);
    try {
      await inbox.attach(Date.now() + REATTACH_WAIT_MS);
    } catch (err) {
      this.attachments.delete(inbox);
      await inbox.close();
      throw err;
    }
    return inbox;
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
    await Promise.allSettled([this.puller.close(), this.publisher.close(), this.admin.close()]);
    await this.link.close();
  }

  isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('amqp transport');
  }
}

/** Something that lives on its own channel and must come back after a reconnect or channel error. */
abstract class Attachment {
  protected ch: Channel | undefined;
  private chConn: ChannelModel | undefined;
  protected stopped = false;
  protected closed = false;
  private resuming: Promise<void> | undefined;

  constructor(protected readonly transport: AmqpTransport) {}

  /** Open a channel and start consuming; throws on failure. */
  async attach(deadline: number): Promise<void> {
    const conn = await this.transport.link.whenOpen(deadline - Date.now());
    await this.prepare(deadline);
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) => {
      channelErrors.set(ch, err);
      this.transport.logger.warn('RabbitMQ closed a consumer channel', { what: this.describe(), error: errorMessage(err) });
    });
    ch.on('close', () => this.channelClosed(ch));
    if (this.stopped || this.closed) {
      await closeQuietly(ch);
      return;
    }
    this.ch = ch;
    this.chConn = conn;
    try {
      await this.start(ch);
    } catch (err) {
      if (this.ch === ch) {
        this.ch = undefined;
        this.chConn = undefined;
      }
      await closeQuietly(ch);
      throw err;
    }
  }

  /** After a reconnect or a channel error: attach again, retrying until it works or we stop. */
  resume(): void {
    if (this.resuming || this.stopped || this.closed) return;
    if (this.ch !== undefined && this.chConn === this.transport.link.conn) return;
    this.resuming = this.resumeLoop().finally(() => (this.resuming = undefined));
  }

  private async resumeLoop(): Promise<void> {
    for (let attempt = 0; !this.stopped && !this.closed && !this.transport.isClosed(); attempt++) {
      if (this.ch !== undefined && this.chConn === this.transport.link.conn) return;
      try {
        await this.attach(Date.now() + REATTACH_WAIT_MS);
        this.transport.logger.info('Resumed consuming', { what: this.describe() });
        return;
      } catch (err) {
        if (this.stopped || this.closed || this.transport.isClosed()) return;
        this.transport.logger.warn('Resuming a consumer failed; retrying', { what: this.describe(), error: errorMessage(err) });
        await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  private channelClosed(ch: Channel): void {
    if (this.ch !== ch) return;
    this.ch = undefined;
    this.chConn = undefined;
    if (this.stopped || this.closed || this.transport.isClosed()) return;
    // A server-side channel error on a live connection: come back now. A lost connection: the
    // reconnect calls resume() too (resume is single-flight and idempotent).
    this.resume();
  }

  /** The server cancelled our consumer (queue deleted, quorum leader moved...): re-attach. */
  protected cancelledByServer(ch: Channel): void {
    // Stopping or closing: the cancel is our own doing (close() deletes the inbox queue) and close() closes the channel.
    if (this.stopped || this.closed) return;
    this.transport.logger.warn('RabbitMQ cancelled a consumer; re-attaching', { what: this.describe() });
    if (this.ch === ch) {
      this.ch = undefined;
      this.chConn = undefined;
    }
    void closeQuietly(ch);
    this.resume();
  }

  async stopConsuming(tag: string | undefined): Promise<void> {
    this.stopped = true;
    const ch = this.ch;
    if (ch !== undefined && tag !== undefined) await ch.cancel(tag).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    this.transport.attachments.delete(this);
    const ch = this.ch;
    this.ch = undefined;
    await this.beforeClose(ch);
    await closeQuietly(ch);
  }

  protected async beforeClose(_ch: Channel | undefined): Promise<void> {}
  protected abstract prepare(deadline: number): Promise<void>;
  protected abstract start(ch: Channel): Promise<void>;
  protected abstract describe(): string;
}

class GroupConsumer extends Attachment implements TransportConsumer {
  private tag: string | undefined;
  private queue: string | undefined;

  constructor(
    transport: AmqpTransport,
    private readonly topic: string,
    private readonly group: string,
    private readonly prefetch: number,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {
    super(transport);
  }

  protected async prepare(deadline: number): Promise<void> {
    this.queue = await this.transport.ensureGroup(this.topic, this.group, deadline);
  }

  protected async start(ch: Channel): Promise<void> {
    const queue = this.queue!;
    await ch.prefetch(this.prefetch);
    const { consumerTag } = await ch.consume(
      queue,
      (msg) => {
        if (msg === null) return this.cancelledByServer(ch);
        this.onDelivery(this.transport.delivery(ch, msg, queue));
      },
      { noAck: false },
    );
    this.tag = consumerTag;
  }

  protected describe(): string {
    return `${this.topic} (group ${this.group})`;
  }

  async stop(): Promise<void> {
    await this.stopConsuming(this.tag);
  }
}

class InboxConsumer extends Attachment implements Inbox {
  constructor(
    transport: AmqpTransport,
    readonly address: string,
    private readonly onMessage: (message: WireMessage) => void,
  ) {
    super(transport);
  }

  protected async prepare(): Promise<void> {}

  protected async start(ch: Channel): Promise<void> {
    // Exclusive: it lives as long as this connection; re-declared under the same name after a reconnect.
    await ch.assertQueue(this.address, { exclusive: true, durable: false, arguments: { 'x-queue-type': 'classic' } });
    await ch.consume(
      this.address,
      (msg) => {
        if (msg === null) return this.cancelledByServer(ch);
        try {
          this.onMessage(fromAmqp(msg, false).wire);
        } catch (err) {
          this.transport.logger.warn('Handling a reply failed', { error: errorMessage(err) });
        }
      },
      { noAck: true, exclusive: true },
    );
  }

  protected describe(): string {
    return `inbox ${this.address}`;
  }

  protected override async beforeClose(ch: Channel | undefined): Promise<void> {
    if (ch === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ch.deleteQueue(this.address).catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  }
}

export function createAmqpTransport(url: URL, context: TransportContext): AmqpTransport {
  return new AmqpTransport(resolveConfig(url), url, context);
}
