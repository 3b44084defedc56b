/**
 * nats://[user:password@ | token@]host[:port][,host:port...][?options] → validated settings.
 * Every option is optional; unknown ones are a ConfigurationError (via core's parseUrlOptions).
 */
import { z } from 'zod';
import { ConfigurationError } from '@switchyard/core';
import { booleanOption, decodeUrlPart, parseUrlOptions, redactUrl } from '@switchyard/core/spi';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const hostPort = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:\d{1,5})?$/i;

export const optionsShape = {
  /** First part of every stream name and subject this adapter uses (see names.ts). */
  prefix: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,31}$/i, 'use 1-32 letters, digits or "-", starting with a letter or digit')
    .default('switchyard'),
  /** JetStream AckWait of every consumer: an unsettled delivery comes back after this long (core extends it while held). */
  ackWaitMs: int(1_000, 3_600_000).default(10_000),
  /** max_ack_pending of every consumer: unacked plus delayed-nak messages per group, across all its consumers. */
  maxAckPending: int(1, 1_000_000).default(1_000),
  /** Stream storage: file (survives restarts) or memory. */
  storage: z.enum(['file', 'memory']).default('file'),
  /** Stream replicas (clustered JetStream). */
  replicas: int(1, 5).default(1),
  /** How long a publish keeps trying (reconnects included) before failing with ConnectionError. */
  publishTimeoutMs: int(100, 600_000).default(30_000),
  /** Connect timeout per attempt. */
  connectTimeoutMs: int(100, 300_000).default(10_000),
  /** Connection name shown by the server's monitoring. Default: switchyard:<service>. */
  name: z.string().min(1).max(200).optional(),
  /** TLS to the server; with ca/cert/key as PEM file paths. */
  tls: booleanOption.optional(),
  ca: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
};

export type NatsOptions = z.infer<z.ZodObject<typeof optionsShape>>;

export interface NatsSettings {
  readonly options: NatsOptions;
  readonly servers: string[];
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** The URL without credentials, for logs, errors and health. */
  readonly redacted: string;
}

export function parseNatsUrl(url: URL, hosts: readonly string[] = []): NatsSettings {
  // nats://token@host: a user name alone is a token, as in NATS's own URLs, and as secret as a password.
  const shown = new URL(url.href);
  if (shown.username !== '' && shown.password === '') shown.username = '***';
  const redacted = redactUrl(shown);
  const options = parseUrlOptions(url, optionsShape, 'nats');
  if (url.pathname !== '' && url.pathname !== '/') {
    // Not the path itself: a password with an unencoded "/" lands there.
    throw new ConfigurationError(`The nats URL takes no path (got ${redacted}). Use nats://host:4222[?options]; percent-encode "/" in a password as %2F.`);
  }
  if (!url.hostname) throw new ConfigurationError(`The nats URL needs a server host: nats://host:4222 (got ${redacted}).`);
  const given = (['ca', 'cert', 'key'] as const).filter((o) => options[o] !== undefined);
  if (given.length > 0 && options.tls === false) throw new ConfigurationError(`nats URL options ${given.join(', ')} need TLS: leave out tls=false.`);
  if ((options.cert === undefined) !== (options.key === undefined)) throw new ConfigurationError('nats URL options cert and key go together (client certificate and its key).');
  const first = `${url.hostname}:${url.port || '4222'}`;
  const extra = hosts.slice(1).map((h) => (/:\d+$/.test(h) ? h : `${h}:4222`));
  for (const server of extra) {
    if (!hostPort.test(server)) throw new ConfigurationError(`Invalid server "${server}" in the nats URL: use nats://host:port[,host:port].`);
  }
  const user = decodeUrlPart(url.username, 'nats', 'user info');
  const pass = decodeUrlPart(url.password, 'nats', 'user info');
  const credentials = user === '' ? {} : pass === '' ? { token: user } : { user, pass };
  return { options, servers: [first, ...extra.filter((s) => s !== first)], ...credentials, redacted };
}
