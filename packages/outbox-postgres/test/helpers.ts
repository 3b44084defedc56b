import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Message } from '@switchyard/core';
import pg from 'pg';
import { createOutbox, type Outbox, type OutboxOptions, type Relay } from '../src/index.js';

export const POSTGRES_URL = process.env['SWITCHYARD_TEST_POSTGRES_URL'] ?? 'postgres://switchyard:switchyard@127.0.0.1:5432/switchyard';
export const RABBITMQ_URL = process.env['SWITCHYARD_TEST_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Short random suffix: each test gets its own table, topics and memory broker. */
export function unique(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
}

/** The RabbitMQ test URL with adapter options, e.g. a prefix of our own so nothing collides with other suites. */
export function rabbitUrl(options: Record<string, string>, base = RABBITMQ_URL, port?: number): string {
  const url = new URL(base);
  if (port !== undefined) url.port = String(port);
  for (const [name, value] of Object.entries(options)) url.searchParams.set(name, value);
  return url.toString();
}

/** A pool, outboxes on fresh tables, and cleanup of both. */
export class Fixture {
  readonly pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 20 });
  private readonly tables: string[] = [];
  private readonly outboxes: Outbox[] = [];
  private readonly cleanups: (() => Promise<unknown>)[] = [];

  constructor() {
    this.pool.on('error', () => undefined);
  }

  async outbox(options: Partial<OutboxOptions> = {}): Promise<Outbox> {
    const table = options.table ?? unique('outbox_test');
    this.tables.push(table);
    const outbox = await createOutbox({ pool: this.pool, createTable: true, table, ...options });
    this.outboxes.push(outbox);
    return outbox;
  }

  /** Run cleanup at dispose, last in first out (buses, relays, proxies, queues). */
  defer(cleanup: () => Promise<unknown>): void {
    this.cleanups.push(cleanup);
  }

  /** Run fn in a transaction on one client: COMMIT if it returns, ROLLBACK if it throws. */
  async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }

  async rows(table: string): Promise<{ message_id: string; status: string; attempts: number; last_error: string | null; claimed_by: string | null; claimed_until: Date | null }[]> {
    const { rows } = await this.pool.query(`SELECT message_id, status, attempts, last_error, claimed_by, claimed_until FROM ${table} ORDER BY id`);
    return rows;
  }

  async dispose(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => undefined);
    for (const outbox of this.outboxes) await outbox.close();
    for (const table of this.tables) {
      await this.pool.query(`DROP TABLE IF EXISTS ${table}`);
      await this.pool.query(`DROP FUNCTION IF EXISTS ${table}_notify()`);
    }
    await this.pool.end();
  }
}

/** Things as they happen (messages, relay events), and a way to await a condition on them with a deadline: checked on each arrival, not by polling. */
export class Recorder<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<() => void>();

  push = (item: T): void => {
    this.items.push(item);
    for (const waiter of [...this.waiters]) waiter();
  };

  until(condition: (items: readonly T[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition(this.items)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (have ${this.items.length})`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** What a subscription receives. */
export class Collector<T = unknown> extends Recorder<Message<T>> {
  get messages(): readonly Message<T>[] {
    return this.items;
  }

  readonly handler = async (msg: Message<T>): Promise<void> => {
    this.push(msg);
  };

  count(id: string): number {
    return this.items.filter((m) => m.id === id).length;
  }
}

/** The ids a relay reports as published (marked sent). */
export function publishedBy(relay: Relay): Recorder<string> {
  const recorder = new Recorder<string>();
  relay.events.on('published', (e) => recorder.push(e.id));
  return recorder;
}

/** Resolve with the first event whose arguments pass `match`, or fail after timeoutMs. */
export function nextEvent<A extends unknown[]>(emitter: EventEmitter, event: string, match: (...args: A) => boolean, timeoutMs: number): Promise<A> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      if (!match(...(args as A))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as A);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}

/** Lines a child process writes, awaitable one pattern at a time. */
export class LineReader {
  readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();
  private buffer = '';

  push(chunk: string): void {
    this.buffer += chunk;
    const parts = this.buffer.split('\n');
    this.buffer = parts.pop()!;
    this.lines.push(...parts);
    for (const waiter of [...this.waiters]) waiter();
  }

  until(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.lines) {
          const match = pattern.exec(line);
          if (match) {
            cleanup();
            resolve(match);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for a line matching ${pattern}; got:\n${this.lines.join('\n')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}
