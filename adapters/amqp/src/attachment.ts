/**
 * A consumer on its own channel that comes back by itself: after a reconnect, a channel error or
 * a server-side cancel it attaches again (the group consumers, the direct reply-to inbox).
 */
import type { Channel, ConsumeMessage, Options } from 'amqplib';
import { ClosedError } from '@switchyard/core';
import { errorMessage, retrying } from '@switchyard/core/spi';
import type { Logger, TransportConsumer } from '@switchyard/core/spi';
import type { Link } from './connection.js';
import { closeQuietly } from './util.js';

/** How long consumers, pulls and topology declarations wait for a reconnect before giving up an attempt. */
export const REATTACH_WAIT_MS = 60_000;

/** What an attachment needs of its transport. */
export interface AttachmentHost {
  readonly link: Link;
  readonly logger: Logger;
  readonly closed: boolean;
  readonly attachments: Set<Attachment>;
}

export interface AttachmentSpec {
  readonly what: string;
  /** Declare what the consumer needs (on `ch` or its own channels); resolves to the queue to consume. */
  setup(ch: Channel, resumed: boolean): Promise<string>;
  readonly prefetch?: number;
  readonly consume: Options.Consume;
  onMessage(ch: Channel, msg: ConsumeMessage): void;
  /** Once the consumer is registered, on every (re-)attach (the inbox learns its reply address). */
  consuming?(ch: Channel): Promise<void>;
}

/** A consumer on its own channel that comes back after a reconnect, a channel error or a server-side cancel. */
export class Attachment implements TransportConsumer {
  private ch: Channel | undefined;
  private tag: string | undefined;
  private stopped = false;
  private resuming = false;

  constructor(private readonly spec: AttachmentSpec & { readonly transport: AttachmentHost }) {}

  async attach(resumed = false): Promise<void> {
    const conn = await this.spec.transport.link.whenOpen(REATTACH_WAIT_MS);
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) => this.spec.transport.logger.warn('RabbitMQ closed a consumer channel', { what: this.spec.what, error: errorMessage(err) }));
    ch.on('close', () => this.lost(ch));
    this.ch = ch;
    try {
      if (this.stopped) throw new ClosedError('amqp consumer');
      const queue = await this.spec.setup(ch, resumed);
      if (this.spec.prefetch !== undefined) await ch.prefetch(this.spec.prefetch);
      this.tag = (await ch.consume(queue, (msg) => (msg === null ? this.lost(ch, true) : this.spec.onMessage(ch, msg)), this.spec.consume)).consumerTag;
      await this.spec.consuming?.(ch);
    } catch (err) {
      if (this.ch === ch) this.ch = undefined;
      await closeQuietly(ch);
      throw err;
    }
  }

  /** After a reconnect or a channel error: attach again, retrying until it works or we stop. */
  resume(): void {
    // A lost connection closes its channels (lost() clears ch) before the link can reconnect.
    const attached = () => this.ch !== undefined;
    const gone = () => this.stopped || this.spec.transport.closed;
    if (this.resuming || gone() || attached()) return;
    this.resuming = true;
    const { logger } = this.spec.transport;
    const onRetry = (err: unknown) => logger.warn('Resuming a consumer failed; retrying', { what: this.spec.what, error: errorMessage(err) });
    retrying(async () => gone() || attached() || (await this.attach(true)), { initialDelayMs: 100, maxDelayMs: 5000, retryIf: () => !gone(), onRetry })
      .then(() => gone() || logger.info('Resumed consuming', { what: this.spec.what }))
      .catch(() => undefined)
      .finally(() => (this.resuming = false));
  }

  /** The channel closed, or the server cancelled our consumer (queue deleted, quorum leader moved...): come back, unless we are going away. */
  private lost(ch: Channel, cancelled = false): void {
    if (this.ch !== ch) return;
    this.ch = undefined;
    if (this.stopped || this.spec.transport.closed) return; // our own doing
    if (cancelled) {
      this.spec.transport.logger.warn('RabbitMQ cancelled a consumer; re-attaching', { what: this.spec.what });
      void closeQuietly(ch);
    }
    this.resume();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ch !== undefined && this.tag !== undefined) await this.ch.cancel(this.tag).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.spec.transport.attachments.delete(this);
    const ch = this.ch;
    this.ch = undefined;
    if (ch === undefined) return;
    await closeQuietly(ch);
  }
}
