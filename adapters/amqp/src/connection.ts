/**
 * One AMQP connection with automatic reconnect. Everything else asks it for the live connection
 * (`whenOpen`) and re-attaches on its 'reconnect' event.
 */
import { EventEmitter, once } from 'node:events';
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { ClosedError, ConnectionError, type Logger } from '@switchyard/core';
import { errorMessage, retrying, scrubSecrets } from '@switchyard/core/spi';
import { coalesceWrites } from './coalesce.js';
import type { ResolvedConfig } from './options.js';
import { closeQuietly, settledWithin } from './util.js';

/** Server-side errors that closed a channel (as opposed to the connection going away). */
export const channelErrors = new WeakMap<Channel, Error>();

/** Emits 'state' on every state change and 'reconnect' once a lost connection is back. */
export class Link extends EventEmitter {
  state: 'new' | 'connecting' | 'open' | 'reconnecting' | 'closed' = 'new';
  conn: ChannelModel | undefined;
  reconnects = 0;
  server: { product?: string; version?: string } = {};
  private readonly stopReconnect = new AbortController();

  constructor(
    private readonly config: ResolvedConfig,
    /** The URL with credentials redacted, for messages. */
    readonly where: string,
    private readonly service: string,
    private readonly logger: Logger,
  ) {
    super();
    this.setMaxListeners(0); // every publish, pull and consumer waiting out an outage listens
  }

  get isOpen(): boolean {
    return this.state === 'open' && this.conn !== undefined;
  }

  /** First connect: one attempt, fails fast with ConnectionError. */
  async connect(): Promise<void> {
    if (this.state !== 'new') return;
    this.setState('connecting');
    try {
      await this.open();
    } catch (err) {
      this.setState('new');
      const hint = 'Check that the broker is running and the URL (host, port, vhost, credentials) is right.';
      throw new ConnectionError(`Cannot connect to RabbitMQ at ${this.where}: ${this.scrub(errorMessage(err))}. ${hint}`, { cause: err });
    }
  }

  /** The live connection, waiting up to timeoutMs for a reconnect. */
  async whenOpen(timeoutMs: number, signal?: AbortSignal): Promise<ChannelModel> {
    let stop: AbortSignal | undefined;
    for (;;) {
      if (this.state === 'closed') throw new ClosedError('amqp transport');
      if (this.isOpen) return this.conn!;
      if (this.state === 'new') throw new ConnectionError(`Not connected to RabbitMQ at ${this.where}; call connect() first.`);
      stop ??= signal ? AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, timeoutMs))]) : AbortSignal.timeout(Math.max(1, timeoutMs));
      try {
        await once(this, 'state', { signal: stop });
      } catch {
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new ConnectionError('Aborted while waiting for the RabbitMQ connection.');
        throw new ConnectionError(`RabbitMQ at ${this.where} is unreachable (reconnecting for ${Math.round(timeoutMs)} ms); nothing was sent. Retry later.`);
      }
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.setState('closed');
    this.stopReconnect.abort();
    const conn = this.conn;
    this.conn = undefined;
    if (conn !== undefined && !(await settledWithin(conn.close(), 5000))) (conn.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }

  /** Never let a password through in a message. */
  scrub(text: string): string {
    return scrubSecrets(text, [this.config.password]);
  }

  private setState(state: Link['state']): void {
    this.state = state;
    this.emit('state', state);
  }

  private async open(): Promise<void> {
    const { protocol, hostname, port, username, password, vhost, tls, options } = this.config;
    // amqplib unescapes the vhost itself.
    const server = { protocol, hostname, port, username, password, vhost: encodeURIComponent(vhost), heartbeat: options.heartbeat };
    const clientProperties = { connection_name: options.connectionName ?? `switchyard:${this.service}` };
    const conn = await amqplib.connect(server, { ...tls, timeout: options.connectTimeoutMs, noDelay: options.noDelay, clientProperties });
    if (!coalesceWrites(conn)) this.logger.debug('This amqplib version has no muxer to coalesce socket writes; each frame is written on its own');
    if (this.state === 'closed') {
      await closeQuietly(conn);
      throw new ClosedError('amqp transport');
    }
    conn.on('error', (err: unknown) => this.logger.warn('RabbitMQ connection error', { where: this.where, error: this.scrub(errorMessage(err)) }));
    conn.on('close', () => this.lost(conn));
    conn.on('blocked', (reason: unknown) => this.logger.warn('RabbitMQ blocked this connection (resource alarm); publishes wait', { where: this.where, reason: String(reason) }));
    conn.on('unblocked', () => this.logger.info('RabbitMQ unblocked this connection', { where: this.where }));
    const props = (conn.connection as unknown as { serverProperties?: Record<string, unknown> }).serverProperties ?? {};
    this.server = { product: String(props['product'] ?? 'RabbitMQ'), version: String(props['version'] ?? 'unknown') };
    this.conn = conn;
    this.setState('open');
  }

  /** Reconnect with core's backoff (reconnectMinMs..reconnectMaxMs, jittered) for as long as the link is open. */
  private lost(conn: ChannelModel): void {
    if (this.conn !== conn || this.state === 'closed') return;
    this.conn = undefined;
    this.setState('reconnecting');
    this.logger.warn('Lost the RabbitMQ connection; reconnecting', { where: this.where });
    const { reconnectMinMs: initialDelayMs, reconnectMaxMs: maxDelayMs } = this.config.options;
    const onRetry = (err: unknown, attempt: number) => this.logger.debug('Reconnect attempt failed', { where: this.where, attempt, error: this.scrub(errorMessage(err)) });
    retrying(() => this.open(), { initialDelayMs, maxDelayMs, signal: this.stopReconnect.signal, retryIf: () => this.state === 'reconnecting', onRetry }).then(
      () => {
        this.reconnects += 1;
        this.logger.info('Reconnected to RabbitMQ', { where: this.where });
        this.emit('reconnect');
      },
      () => undefined, // closed meanwhile
    );
  }
}

/**
 * A lazily (re)opened channel bound to the live connection: a new one after the old one closed
 * (server-side channel error) or the connection was replaced.
 */
export type ChannelSlot<C extends Channel> = ReturnType<typeof channelSlot<C>>;

export function channelSlot<C extends Channel>(create: (conn: ChannelModel) => Promise<C>, logger: Logger, what: string) {
  let current: { conn: ChannelModel; ch: Promise<C>; open: boolean; ready?: C } | undefined;
  return {
    get(conn: ChannelModel): Promise<C> {
      if (current?.conn === conn && current.open) return current.ch;
      const entry: NonNullable<typeof current> = { conn, open: true, ch: create(conn) };
      entry.ch.then(
        (ch) => {
          entry.ready = ch;
          ch.on('close', () => (entry.open = false));
          ch.on('error', (err: Error) => {
            channelErrors.set(ch, err);
            logger.warn(`RabbitMQ closed the ${what} channel`, { error: errorMessage(err) });
          });
        },
        () => (entry.open = false),
      );
      current = entry;
      return entry.ch;
    },

    /** The channel for `conn` if it is open now (no waiting), else undefined: then use get(). */
    ready(conn: ChannelModel): C | undefined {
      return current?.conn === conn && current.open ? current.ready : undefined;
    },

    /** Stop handing out `ch` (its state can no longer be trusted) and close it in the background. */
    discard(ch: C): void {
      if (current?.ready === ch) current = undefined;
      void closeQuietly(ch);
    },

    async close(): Promise<void> {
      const cur = current;
      current = undefined;
      if (cur?.open) await closeQuietly(await cur.ch.catch(() => undefined));
    },
  };
}
