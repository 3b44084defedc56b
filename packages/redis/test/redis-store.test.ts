/**
 * What the store conformance suite cannot see: the key layout, who owns the client, option
 * checks, and that credentials never reach errors or logs.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '@switchyard/core';
import { cleanupAfterEach, CuttableProxy } from '@switchyard/conformance';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { redisIdempotencyStore } from '../src/index.js';
import { REDIS_URL, uniquePrefix } from './helpers.js';

const cleanups = cleanupAfterEach();

async function connectedClient() {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  cleanups.push(async () => client.isOpen && client.close());
  return client;
}

/** A logger that keeps every line, to check what was (not) logged. */
function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = (message: string, fields?: Record<string, unknown>) => void lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  return { logger: { debug: log, info: log, warn: log, error: log }, lines };
}

describe('redisIdempotencyStore', () => {
  it('keeps each key in a hash at <prefix>:idem:<key> whose TTL is the lease, then the done TTL', async () => {
    const client = await connectedClient();
    const prefix = uniquePrefix('layout');
    const store = redisIdempotencyStore({ client, prefix });
    const claim = await store.claim('billing:m-1', { leaseMs: 30_000 });
    if (claim.status !== 'claimed') throw new Error(`expected a claim, got ${claim.status}`);
    const redisKey = `${prefix}:idem:billing:m-1`;
    expect(store.redisKey('billing:m-1')).toBe(redisKey);
    expect(await client.hGetAll(redisKey)).toEqual({ state: 'claimed', token: claim.token });
    expect(await client.pTTL(redisKey)).toBeGreaterThan(25_000);
    expect(await client.pTTL(redisKey)).toBeLessThanOrEqual(30_000);
    expect(await store.complete('billing:m-1', claim.token, { ttlMs: 3_600_000, result: '{"ok":true}' })).toBe(true);
    expect(await client.hGetAll(redisKey)).toEqual({ state: 'done', token: claim.token, result: '{"ok":true}' });
    expect(await client.pTTL(redisKey)).toBeGreaterThan(3_500_000);
    expect(await store.release('billing:m-1', claim.token)).toBe(false);
    expect(await client.exists(redisKey)).toBe(1);
  });

  it('leaves a client it was given open on close, and closes the one it made from a URL', async () => {
    const client = await connectedClient();
    const given = redisIdempotencyStore({ client, prefix: uniquePrefix('owned') });
    await given.close();
    expect(client.isOpen).toBe(true);
    expect((await given.claim('still-works', { leaseMs: 1000 })).status).toBe('claimed');

    const own = redisIdempotencyStore({ url: REDIS_URL, prefix: uniquePrefix('owned'), commandTimeoutMs: 2000 });
    expect((await own.claim('k', { leaseMs: 1000 })).status).toBe('claimed');
    await own.close();
    await expect(own.claim('k2', { leaseMs: 1000 })).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
  });

  it('reloads its scripts when Redis forgot them (restart or SCRIPT FLUSH)', async () => {
    const client = await connectedClient();
    const store = redisIdempotencyStore({ client, prefix: uniquePrefix('noscript') });
    expect((await store.claim('a', { leaseMs: 1000 })).status).toBe('claimed');
    await client.scriptFlush();
    expect((await store.claim('b', { leaseMs: 1000 })).status).toBe('claimed');
    expect(await store.claim('a', { leaseMs: 1000 })).toEqual({ status: 'busy' });
  });

  it('fails closed on a key that holds something else, saying what to check', async () => {
    const client = await connectedClient();
    const prefix = uniquePrefix('wrongtype');
    await client.set(`${prefix}:idem:taken`, 'not a hash', { expiration: { type: 'PX', value: 60_000 } });
    const store = redisIdempotencyStore({ client, prefix });
    await expect(store.claim('taken', { leaseMs: 1000 })).rejects.toMatchObject({ code: 'ERR_IDEMPOTENCY_STORE', message: expect.stringMatching(/WRONGTYPE.*prefix/) });
  });

  it('refuses bad options with a message that says what to pass', () => {
    expect(() => redisIdempotencyStore({} as never)).toThrow(/exactly one of `client`.*or `url`/);
    expect(() => redisIdempotencyStore({ url: REDIS_URL, client: {} } as never)).toThrow(/exactly one/);
    expect(() => redisIdempotencyStore({ client: {} as never })).toThrow(/node-redis client/);
    expect(() => redisIdempotencyStore({ url: 'http://user:hunter2@host' })).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => redisIdempotencyStore({ url: 'http://user:hunter2@host' })).not.toThrow(/hunter2/);
    expect(() => redisIdempotencyStore({ url: REDIS_URL, prefix: '' })).toThrow(/prefix/);
    expect(() => redisIdempotencyStore({ url: REDIS_URL, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/);
  });

  it('never puts the password in errors or logs when Redis cannot be reached', async () => {
    const target = new URL(REDIS_URL);
    const proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    cleanups.push(() => proxy.close());
    proxy.cut();
    const password = `pw-${randomUUID()}`;
    const url = new URL(proxy.url(REDIS_URL));
    url.username = 'orders';
    url.password = password;
    const { logger, lines } = recordingLogger();
    const store = redisIdempotencyStore({ url: url.toString(), prefix: uniquePrefix('creds'), commandTimeoutMs: 500, logger });
    cleanups.push(() => store.close());
    const error = await store.claim('k', { leaseMs: 1000 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: 'ERR_CONNECTION', message: expect.stringMatching(/could not claim "k".*retried later/) });
    expect(String((error as Error).message)).not.toContain(password);
    expect(JSON.stringify(error)).not.toContain(password);
    expect(lines.length, 'the lost connection is logged').toBeGreaterThan(0);
    expect(lines.join('\n')).toContain('127.0.0.1');
    expect(lines.join('\n')).not.toContain(password);
  });

  it('logs a lost connection once and its return, then works again', async () => {
    const target = new URL(REDIS_URL);
    const proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    cleanups.push(() => proxy.close());
    const { logger, lines } = recordingLogger();
    const store = redisIdempotencyStore({ url: proxy.url(REDIS_URL), prefix: uniquePrefix('relog'), commandTimeoutMs: 500, logger });
    cleanups.push(() => store.close());
    expect((await store.claim('before', { leaseMs: 60_000 })).status).toBe('claimed');
    proxy.cut();
    await expect(store.claim('during', { leaseMs: 1000 })).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
    await expect(store.claim('during', { leaseMs: 1000 })).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
    proxy.restore();
    await expect.poll(() => lines.some((l) => l.startsWith('Redis idempotency store reconnected')), { timeout: 10_000 }).toBe(true);
    expect(lines.filter((l) => l.startsWith('Redis idempotency store lost its connection'))).toHaveLength(1);
    expect(await store.claim('before', { leaseMs: 1000 })).toEqual({ status: 'busy' });
  });
});
