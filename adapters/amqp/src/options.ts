/**
 * amqp[s]://user:pass@host[:port][/vhost][?options] → validated settings.
 * Every option is optional; unknown ones are a ConfigurationError (via core's parseUrlOptions).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from '@switchyard/core';
import { booleanOption, decodeUrlPart, parseUrlOptions } from '@switchyard/core/spi';

const MIB = 1024 * 1024;
/** RabbitMQ's own default max_message_size. */
const RABBITMQ_MAX_MESSAGE = 128 * MIB;
const DEFAULT_MAX_PAYLOAD = 16 * MIB;
const NAME = /^[a-z0-9][a-z0-9._-]{0,31}$/i;

export const optionsShape = {
  /** Prefix of every exchange and queue this adapter declares. */
  prefix: z.string().regex(NAME, 'use 1-32 letters, digits, ".", "_" or "-", starting with a letter or digit').default('switchyard'),
  /** quorum (default: replicated, counts deliveries across crashes) or classic. */
  queueType: z.enum(['quorum', 'classic']).default('quorum'),
  /**
   * Quorum queues only: pins x-delivery-limit (RabbitMQ dead-letters natively after N returns) for
   * every group queue; must be at least each group's maxAttempts. Unset: max(20, 2 × maxAttempts).
   */
  deliveryLimit: z.coerce.number().int().positive().optional(),
  /** x-expires on group queues: delete a group queue unused (no consumers, no gets) for this long. Unset: never. */
  queueExpiresMs: z.coerce.number().int().positive().optional(),
  /** Heartbeat in seconds (0 disables). */
  heartbeat: z.coerce.number().int().min(0).max(3600).default(15),
  /** Upper bound for the per-consumer prefetch (basic.qos) core asks for. */
  maxPrefetch: z.coerce.number().int().min(1).max(65_535).default(1000),
  /** Largest message accepted (body + headers). RabbitMQ's own default limit is 128 MiB. */
  maxPayloadBytes: z.coerce.number().int().positive().max(RABBITMQ_MAX_MESSAGE).default(DEFAULT_MAX_PAYLOAD),
  /** How long a publish waits for the connection to come back (and for the confirm) before failing with ConnectionError. */
  publishTimeoutMs: z.coerce.number().int().min(0).max(600_000).default(30_000),
  /** TCP/TLS connect timeout per attempt. */
  connectTimeoutMs: z.coerce.number().int().positive().max(300_000).default(10_000),
  /** Reconnect backoff: first delay and cap. */
  reconnectMinMs: z.coerce.number().int().positive().max(60_000).default(100),
  reconnectMaxMs: z.coerce.number().int().positive().max(300_000).default(5_000),
  /**
   * TCP_NODELAY on the socket. On by default: with Nagle's algorithm a small frame (a confirm, an
   * ack, a reply) can wait for the peer's delayed ACK, ~40 ms per round trip.
   */
  noDelay: booleanOption.default(true),
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

/** Validated settings: the options, where to connect (vhost decoded) and amqplib's TLS socket options (PEM files read). */
export type ResolvedConfig = ReturnType<typeof resolveConfig>;

const TLS_OPTIONS = ['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized'] as const;

export function resolveConfig(url: URL) {
  const options = parseUrlOptions(url, optionsShape, 'amqp');
  const protocol = url.protocol === 'amqps:' ? 'amqps' : 'amqp';
  const misplaced = protocol === 'amqp' ? TLS_OPTIONS.filter((o) => options[o] !== undefined) : [];
  if (misplaced.length > 0) throw new ConfigurationError(`TLS option${misplaced.length > 1 ? 's' : ''} ${misplaced.map((o) => `"${o}"`).join(', ')} need an amqps:// URL.`);
  if (options.reconnectMinMs > options.reconnectMaxMs) throw new ConfigurationError('amqp URL option reconnectMinMs must not exceed reconnectMaxMs.');
  if (options.deliveryLimit !== undefined && options.queueType !== 'quorum') throw new ConfigurationError('amqp URL option deliveryLimit needs queueType=quorum.');
  const hostname = url.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  if (url.port !== '' && !/^\d+$/.test(url.port)) throw new ConfigurationError('amqp URL port must be a number.');
  const port = url.port === '' ? (protocol === 'amqps' ? 5671 : 5672) : Number(url.port);
  const rawPath = url.pathname.replace(/^\//, '');
  if (rawPath.includes('/')) throw new ConfigurationError('amqp URL path is the vhost and must be a single segment (encode "/" as %2F), e.g. amqp://host/%2F.');
  const tls: Record<string, unknown> = {};
  for (const name of protocol === 'amqps' ? TLS_OPTIONS : []) {
    const value = options[name];
    if (value !== undefined) tls[name] = name === 'ca' || name === 'cert' || name === 'key' ? readPem(name, String(value)) : value;
  }
  const credentials = url.username !== '' || url.password !== '';
  const [username, password] = credentials ? [decodeUrlPart(url.username, 'amqp', 'user info'), decodeUrlPart(url.password, 'amqp', 'user info')] : [undefined, undefined];
  return { options, protocol, hostname, port, vhost: rawPath === '' ? '/' : decodeUrlPart(rawPath, 'amqp', 'vhost'), username, password, tls } as const;
}

function readPem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigurationError(`Cannot read the amqps ${option} file given in the URL: ${(err as NodeJS.ErrnoException).code ?? 'read failed'}. Give a readable PEM file path.`);
  }
}
