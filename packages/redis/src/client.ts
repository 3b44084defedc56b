import type { Logger } from '@switchyard/core';
import { createClient } from 'redis';
import { scrub } from './errors.js';

/**
 * What the store needs from a node-redis client: `sendCommand`. Any standalone client from
 * `createClient()` fits (with or without modules, RESP2 or RESP3); cluster and sentinel clients
 * do not (their sendCommand takes a routing key first).
 */
export interface RedisCommandClient {
  sendCommand<T = unknown>(args: ReadonlyArray<string | Buffer>, options?: { timeout?: number; typeMapping?: Record<never, never> }): Promise<T>;
}

export interface OwnedClient {
  readonly client: RedisCommandClient;
  close(): Promise<void>;
}

/**
 * A client the store owns (built from a URL): it connects in the background and keeps
 * reconnecting; commands wait for it at most their timeout. Connection trouble is logged once
 * per outage, without the URL's credentials.
 */
export function ownClient(url: string, logger: Logger, where: string): OwnedClient {
  const client = createClient({
    url,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
  });
  let down = false;
  client.on('error', (err: unknown) => {
    if (down) return;
    down = true;
    logger.warn('Redis idempotency store lost its connection; claims fail (messages are retried) until it is back', { where, error: scrub(err, url) });
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info('Redis idempotency store reconnected', { where });
  });
  // connect() keeps retrying until it succeeds or close() is called; failures surface as 'error'.
  const connecting = client.connect().catch(() => undefined);
  let closed: Promise<void> | undefined;
  return {
    client,
    close() {
      closed ??= (async () => {
        if (client.isOpen) await client.close().catch(() => client.destroy());
        await connecting;
      })();
      return closed;
    },
  };
}
