/**
 * One AMQP connection with automatic reconnect. Everything else asks it for the live connection
 * (`whenOpen`) and re-attaches when `onReconnect` listeners fire.
 */
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { ClosedError, ConnectionError, type Logger } from '@switchyard/core';
import { backoffDelay, errorMessage, scrubSecrets, sleep } from '@switchyard/core/spi';
import type { ResolvedConfig } from './options.js';
import { closeQuietly } from './util.js';

export type LinkState = 'new' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Server-side errors that closed a channel (as opposed to the connection going away). */
export const channelErrors = new WeakMap<Channel, Error>();

export class Link {
  state: LinkState = 'new';
  conn: ChannelModel | undefined;
  /** Bumped on every (re)connect. */
  generation = 0;
  reconnects = 0;
  server: { product?: string; version?: string } = {};
  private readonly waiters = new Set<() => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private reconnecting: Promise<void> | undefined;
  private readonly stopReconnect = new AbortController();

  constructor(
    private readonly config: ResolvedConfig,
    /** The URL with credentials redacted, for messages. */
    readonly where: string,
    private readonly service: string,
    private readonly logger: Logger,
  ) {}

  get isOpen(): boolean {
    return this.state === 'open' && this.conn !== undefined;
  }

  /** First connect: one attempt, fails fast with ConnectionError. */
  async connect(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'connecting';
    try {
      await this.open();
    } catch (err) {
      this.state = 'new';
      throw this.connectionError(err);
    }
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** The live connection, waiting up to timeoutMs for a reconnect. */
  whenOpen(timeoutMs: number, signal?: AbortSignal): Promise<ChannelModel> {
    if (this.state === 'closed') return Promise.reject(new ClosedError('amqp transport'));
    if (this.isOpen) return Promise.resolve(this.conn!);
    if (this.state === 'new') return Promise.reject(new ConnectionError(`Not connected to RabbitMQ at ${this.where}; call connect() first.`));
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter = () => {
        if (this.state === 'closed') {
          finish();
          reject(new ClosedError('amqp transport'));
        } else if (this.isOpen) {
          finish();
          resolve(this.conn!);
        }
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason instanceof Error ? signal.reason : new ConnectionError('Aborted while waiting for the RabbitMQ connection.'));
      };
      const timer = setTimeout(
        () => {
          finish();
          reject(new ConnectionError(`RabbitMQ at ${this.where} is unreachable (reconnecting for ${Math.round(timeoutMs)} ms); nothing was sent. Retry later.`));
        },
        Math.max(0, timeoutMs),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopReconnect.abort();
    this.wake();
    const conn = this.conn;
    this.conn = undefined;
    if (conn === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      conn.close().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 5000))),
    ]);
    clearTimeout(timer);
    if (!closed) (conn.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }

  connectionError(err: unknown): ConnectionError {
    return new ConnectionError(
      `Cannot connect to RabbitMQ at ${this.where}: ${this.scrub(errorMessage(err))}. Check that the broker is running and the URL (host, port, vhost, credentials) is right.`,
      { cause: err },
    );
  }

  /** Never let a password through in a message. */
  scrub(text: string): string {
    return scrubSecrets(text, [this.config.password]);
  }

  private async open(): Promise<void> {
    const { config } = this;
    const conn = await amqplib.connect(
      {
        protocol: config.protocol,
        hostname: config.hostname,
        port: config.port,
        username: config.username,
        password: config.password,
        // amqplib unescapes the vhost itself.
        vhost: encodeURIComponent(config.vhost),
        heartbeat: config.options.heartbeat,
      },
      {
        ...config.tls,
        timeout: config.options.connectTimeoutMs,
        clientProperties: { connection_name: config.options.connectionName ?? `switchyard:${this.service}` },
      },
    );
    if (this.state === 'closed') {
      await conn.close().catch(() => undefined);
      throw new ClosedError('amqp transport');
    }
    conn.on('error', (err: unknown) => this.logger.warn('RabbitMQ connection error', { where: this.where, error: this.scrub(errorMessage(err)) }));
    conn.on('close', () => this.lost(conn));
    conn.on('blocked', (reason: unknown) => this.logger.warn('RabbitMQ blocked this connection (resource alarm); publishes wait', { where: this.where, reason: String(reason) }));
    conn.on('unblocked', () => this.logger.info('RabbitMQ unblocked this connection', { where: this.where }));
    const props = (conn.connection as unknown as { serverProperties?: Record<string, unknown> }).serverProperties ?? {};
    this.server = { product: String(props['product'] ?? 'RabbitMQ'), version: String(props['version'] ?? 'unknown') };
    this.conn = conn;
    this.generation += 1;
    this.state = 'open';
    this.wake();
  }

  private lost(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    if (this.state === 'closed') return;
    this.state = 'reconnecting';
    this.logger.warn('Lost the RabbitMQ connection; reconnecting', { where: this.where });
    this.reconnecting ??= this.reconnectLoop().finally(() => (this.reconnecting = undefined));
  }

  private async reconnectLoop(): Promise<void> {
    const { reconnectMinMs, reconnectMaxMs } = this.config.options;
    const policy = { maxAttempts: Number.MAX_SAFE_INTEGER, initialDelayMs: reconnectMinMs, maxDelayMs: reconnectMaxMs, factor: 2 };
    for (let attempt = 0; this.state === 'reconnecting'; attempt++) {
      // Same exponential backoff with equal jitter as core's retries (attempt 0 waits ~reconnectMinMs).
      await sleep(backoffDelay(policy, attempt + 2), this.stopReconnect.signal);
      if (this.state !== 'reconnecting') return;
      try {
        await this.open();
      } catch (err) {
        if (this.state !== 'reconnecting') return;
        this.logger.debug('Reconnect attempt failed', { where: this.where, attempt, error: this.scrub(errorMessage(err)) });
        continue;
      }
      this.reconnects += 1;
      this.logger.info('Reconnected to RabbitMQ', { where: this.where, attempts: attempt + 1 });
      for (const listener of [...this.reconnectListeners]) {
        try {
          listener();
        } catch (err) {
          this.logger.warn('A reconnect listener failed', { error: errorMessage(err) });
        }
      }
      return;
    }
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/**
 * A lazily (re)opened channel bound to the live connection: a new one after the old one closed
 * (server-side channel error) or the connection was replaced.
 */
export class ChannelSlot<C extends Channel> {
  private current: { conn: ChannelModel; promise: Promise<C>; closed: boolean; ch?: C } | undefined;

  constructor(
    private readonly create: (conn: ChannelModel) => Promise<C>,
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  get(conn: ChannelModel): Promise<C> {
    const cur = this.current;
    if (cur && cur.conn === conn && !cur.closed) return cur.promise;
    const entry: { conn: ChannelModel; promise: Promise<C>; closed: boolean; ch?: C } = { conn, closed: false, promise: undefined as unknown as Promise<C> };
    entry.promise = this.create(conn).then(
      (ch) => {
        ch.on('error', (err: Error) => {
          channelErrors.set(ch, err);
          this.logger.warn(`RabbitMQ closed the ${this.what} channel`, { error: errorMessage(err) });
        });
        ch.on('close', () => (entry.closed = true));
        entry.ch = ch;
        return ch;
      },
      (err: unknown) => {
        entry.closed = true;
        throw err;
      },
    );
    this.current = entry;
    return entry.promise;
  }

  /** Stop handing out `ch` (its state can no longer be trusted) and close it in the background. */
  discard(ch: C): void {
    const cur = this.current;
    if (cur !== undefined && cur.ch === ch) {
      cur.closed = true;
      this.current = undefined;
    }
    void closeQuietly(ch);
  }

  async close(): Promise<void> {
    const cur = this.current;
    this.current = undefined;
    if (!cur || cur.closed) return;
    await closeQuietly(await cur.promise.catch(() => undefined));
  }
}
