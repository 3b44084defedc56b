import { ConfigurationError, silentLogger, type IdempotencyStore, type Logger } from '@switchyard/core';
import { redactUrl } from '@switchyard/core/spi';
import { randomUUID } from 'node:crypto';
import { ownClient, type RedisCommandClient } from './client.js';
import { storeError } from './errors.js';
import { CLAIM, COMPLETE, EXTEND, RELEASE, type Script } from './scripts.js';

interface CommonOptions {
  /** Keys are `<prefix>:idem:<key>`. Default `switchyard`. Give each environment sharing a Redis its own. */
  prefix?: string;
  /**
   * Longest wait for one Redis call, including waiting for a (re)connection; past it the call
   * throws and the runner retries the message later (fail closed). Default 5000.
   */
  commandTimeoutMs?: number;
}

export type RedisIdempotencyStoreOptions = CommonOptions &
  (
    | {
        /** A connected node-redis client you own: the store never connects or closes it. */
        client: RedisCommandClient;
        url?: never;
      }
    | {
        /** `redis[s]://[user:password@]host[:port][/db]`: the store opens, reconnects and (on close) closes its own client. */
        url: string;
        client?: never;
        /** Connection lost/back messages (url mode only). Default: silent. Never contains credentials. */
        logger?: Logger;
      }
  );

export interface RedisIdempotencyStore extends IdempotencyStore {
  extend(key: string, token: string, options: { leaseMs: number }): Promise<boolean>;
  /** The Redis key that holds `key`'s claim or done mark (for operators and tests). */
  redisKey(key: string): string;
  /** Close the store's own client (url mode); a client you passed in is left open. */
  close(): Promise<void>;
}

const DEFAULT_PREFIX = 'switchyard';
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/**
 * An idempotency store on Redis, shared by every instance of a service. Each operation is one
 * Lua script, so claims are atomic across clients; claims are leases kept as the key's TTL.
 */
export function redisIdempotencyStore(options: RedisIdempotencyStoreOptions): RedisIdempotencyStore {
  const { prefix, commandTimeoutMs } = checkOptions(options);
  const url = options.url;
  const owned = url === undefined ? undefined : ownClient(url, options.logger ?? silentLogger, redactUrl(url));
  const client = owned?.client ?? (options.client as RedisCommandClient);
  const redisKey = (key: string) => `${prefix}:idem:${key}`;

  async function run<T>(operation: string, key: string, script: Script, args: readonly string[]): Promise<T> {
    const tail = ['1', redisKey(key), ...args];
    // An empty type mapping keeps replies as plain strings and numbers whatever the client's defaults.
    const commandOptions = { timeout: commandTimeoutMs, typeMapping: {} };
    try {
      try {
        return await client.sendCommand<T>(['EVALSHA', script.sha1, ...tail], commandOptions);
      } catch (err) {
        // Redis forgets loaded scripts on restart (or SCRIPT FLUSH): send the source once more.
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return await client.sendCommand<T>(['EVAL', script.source, ...tail], commandOptions);
      }
    } catch (err) {
      throw storeError(operation, key, err, url);
    }
  }

  return {
    redisKey,
    async claim(key, { leaseMs }) {
      const token = randomUUID();
      const [status, hasResult, result] = await run<[string, number, string]>('claim', key, CLAIM, [token, ms(leaseMs)]);
      if (status === 'claimed') return { status, token };
      if (status === 'done') return hasResult === 1 ? { status, result } : { status };
      if (status === 'busy') return { status };
      throw storeError('claim', key, new Error(`unexpected reply ${JSON.stringify(status)}`), url);
    },
    async complete(key, token, { ttlMs, result }) {
      const args = result === undefined ? [token, ms(ttlMs), '0', ''] : [token, ms(ttlMs), '1', result];
      return (await run<number>('complete', key, COMPLETE, args)) === 1;
    },
    async release(key, token) {
      return (await run<number>('release', key, RELEASE, [token])) === 1;
    },
    async extend(key, token, { leaseMs }) {
      return (await run<number>('extend', key, EXTEND, [token, ms(leaseMs)])) === 1;
    },
    async close() {
      await owned?.close();
    },
  };
}

/** PEXPIRE takes whole, positive milliseconds. */
function ms(value: number): string {
  return String(Math.max(1, Math.ceil(value)));
}

function checkOptions(options: RedisIdempotencyStoreOptions): { prefix: string; commandTimeoutMs: number } {
  const given = options as { client?: unknown; url?: unknown };
  if ((given.client === undefined) === (given.url === undefined)) {
    throw new ConfigurationError('redisIdempotencyStore needs exactly one of `client` (a connected node-redis client) or `url` (redis://host:6379).');
  }
  if (given.client !== undefined && typeof (given.client as { sendCommand?: unknown }).sendCommand !== 'function') {
    throw new ConfigurationError(
      'redisIdempotencyStore: `client` must be a node-redis client (createClient() from the `redis` package, connected); cluster clients are not supported.',
    );
  }
  if (given.url !== undefined && (typeof given.url !== 'string' || !/^rediss?:\/\//.test(given.url))) {
    throw new ConfigurationError(
      `redisIdempotencyStore: \`url\` must start with redis:// or rediss://, got ${typeof given.url === 'string' ? redactUrl(given.url) : typeof given.url}.`,
    );
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 200 || /\s/.test(prefix)) {
    throw new ConfigurationError('redisIdempotencyStore: `prefix` must be 1-200 characters without whitespace, e.g. "orders-prod".');
  }
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
    throw new ConfigurationError(`redisIdempotencyStore: \`commandTimeoutMs\` must be a positive integer (milliseconds), got ${String(commandTimeoutMs)}.`);
  }
  return { prefix, commandTimeoutMs };
}
