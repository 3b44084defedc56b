/**
 * amqp[s]://user:pass@host[:port][/vhost][?options] → validated settings.
 * Every option is optional; unknown ones are a ConfigurationError (via core's parseUrlOptions).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from '@switchyard/core';
import { booleanOption, parseUrlOptions } from '@switchyard/core/spi';

const MIB = 1024 * 1024;

export const optionsShape = {
  /** Prefix of every exchange and queue this adapter declares. */
  prefix: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,31}$/i, 'use 1-32 letters, digits, ".", "_" or "-", starting with a letter or digit')
    .default('switchyard'),
  /** quorum (default: replicated, counts deliveries across crashes) or classic. */
  queueType: z.enum(['quorum', 'classic']).default('quorum'),
  /** Quorum queues only: x-delivery-limit (RabbitMQ drops/dead-letters natively after N returns). Unset: no limit (core dead-letters). */
  deliveryLimit: z.coerce.number().int().positive().optional(),
  /** x-expires on group queues: delete a group queue unused (no consumers, no gets) for this long. Unset: never. */
  queueExpiresMs: z.coerce.number().int().positive().optional(),
  /** Heartbeat in seconds (0 disables). */
  heartbeat: z.coerce.number().int().min(0).max(3600).default(15),
  /** Upper bound for the per-consumer prefetch (basic.qos) core asks for. */
  maxPrefetch: z.coerce.number().int().min(1).max(65_535).default(1000),
  /** Largest message accepted (body + headers). RabbitMQ's own default limit is 128 MiB. */
  maxPayloadBytes: z.coerce
    .number()
    .int()
    .positive()
    .max(128 * MIB)
    .default(16 * MIB),
  /** How long a publish waits for the connection to come back (and for the confirm) before failing with ConnectionError. */
  publishTimeoutMs: z.coerce.number().int().min(0).max(600_000).default(30_000),
  /** TCP/TLS connect timeout per attempt. */
  connectTimeoutMs: z.coerce.number().int().positive().max(300_000).default(10_000),
  /** Reconnect backoff: first delay and cap. */
  reconnectMinMs: z.coerce.number().int().positive().max(60_000).default(100),
  reconnectMaxMs: z.coerce.number().int().positive().max(300_000).default(5_000),
  /** Connection name shown in the management UI. Default: switchyard:<service>. */
  connectionName: z.string().max(200).optional(),
  /** amqps only: CA bundle, client certificate and key (PEM file paths), key passphrase, SNI name, certificate verification. */
  ca: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  passphrase: z.string().optional(),
  servername: z.string().min(1).optional(),
  rejectUnauthorized: booleanOption.optional(),
};

export type AmqpOptions = z.infer<z.ZodObject<typeof optionsShape>>;

export interface ResolvedConfig {
  readonly options: AmqpOptions;
  readonly protocol: 'amqp' | 'amqps';
  readonly hostname: string;
  readonly port: number;
  /** Decoded vhost name. */
  readonly vhost: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** socketOptions for amqplib (TLS material read from files). */
  readonly tls: Record<string, unknown>;
}

const TLS_OPTIONS = ['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized'] as const;

export function resolveConfig(url: URL): ResolvedConfig {
  const options = parseUrlOptions(url, optionsShape, 'amqp');
  const protocol = url.protocol === 'amqps:' ? 'amqps' : 'amqp';
  if (protocol === 'amqp') {
    const given = TLS_OPTIONS.filter((o) => options[o] !== undefined);
    if (given.length > 0) throw new ConfigurationError(`TLS option${given.length > 1 ? 's' : ''} ${given.map((o) => `"${o}"`).join(', ')} need an amqps:// URL.`);
  }
  if (options.reconnectMinMs > options.reconnectMaxMs) throw new ConfigurationError('amqp URL option reconnectMinMs must not exceed reconnectMaxMs.');
  if (options.deliveryLimit !== undefined && options.queueType !== 'quorum') throw new ConfigurationError('amqp URL option deliveryLimit needs queueType=quorum.');
  const hostname = url.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  if (url.port !== '' && !/^\d+$/.test(url.port)) throw new ConfigurationError('amqp URL port must be a number.');
  const port = url.port === '' ? (protocol === 'amqps' ? 5671 : 5672) : Number(url.port);
  const rawPath = url.pathname.replace(/^\//, '');
  if (rawPath.includes('/')) throw new ConfigurationError('amqp URL path is the vhost and must be a single segment (encode "/" as %2F), e.g. amqp://host/%2F.');
  let vhost: string;
  try {
    vhost = rawPath === '' ? '/' : decodeURIComponent(rawPath);
  } catch {
    throw new ConfigurationError('amqp URL vhost is not valid percent-encoding.');
  }
  const tls: Record<string, unknown> = {};
  if (protocol === 'amqps') {
    for (const file of ['ca', 'cert', 'key'] as const) {
      const path = options[file];
      if (path === undefined) continue;
      try {
        tls[file] = readFileSync(path);
      } catch (err) {
        throw new ConfigurationError(
          `Cannot read the amqps ${file} file given in the URL: ${(err as NodeJS.ErrnoException).code ?? 'read failed'}. Give a readable PEM file path.`,
        );
      }
    }
    if (options.passphrase !== undefined) tls['passphrase'] = options.passphrase;
    if (options.servername !== undefined) tls['servername'] = options.servername;
    if (options.rejectUnauthorized !== undefined) tls['rejectUnauthorized'] = options.rejectUnauthorized;
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new ConfigurationError('amqp URL user info is not valid percent-encoding.');
    }
  };
  const hasCredentials = url.username !== '' || url.password !== '';
  return {
    options,
    protocol,
    hostname,
    port,
    vhost,
    username: hasCredentials ? decode(url.username) : undefined,
    password: hasCredentials ? decode(url.password) : undefined,
    tls,
  };
}
