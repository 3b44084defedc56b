/**
 * kafka://[user:password@]host:port[,host:port...][?options] → validated settings.
 *
 * WHATWG URLs cannot carry a comma-separated host list; core splits it off and passes every
 * host in TransportContext.hosts (the URL keeps the first).
 */
import { z } from 'zod';
import { ConfigurationError } from '@switchyard/core';
import { booleanOption, decodeUrlPart, parseUrlOptions, redactUrl } from '@switchyard/core/spi';

const hostPort = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?):\d{1,5}$/i;
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const optionsShape = {
  /** Client id sent to the brokers (quotas, logs). Default: switchyard-<service>. */
  clientId: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,200}$/, 'letters, digits, ".", "_" or "-", at most 200')
    .optional(),
  /** Partitions of topics this transport creates on first use. */
  partitions: int(1, 10_000).default(4),
  /** Replication factor of topics it creates; -1 = the broker's default.replication.factor. */
  replicationFactor: int(-1, 32).default(-1),
  /** TLS to the brokers (system CAs). */
  ssl: booleanOption.default(false),
  /** SASL mechanism; credentials come from the URL's user info. Default plain when user info is given. */
  sasl: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  /** Consumer group session timeout (ms): how long a silent member keeps its partitions. */
  sessionTimeout: int(3_000, 300_000).default(10_000),
  /** Heartbeat interval (ms); must be below sessionTimeout (about a third or less). */
  heartbeatInterval: int(100, 100_000).default(1_000),
  /** How long the coordinator waits for members to rejoin during a rebalance (ms). */
  rebalanceTimeout: int(3_000, 600_000).default(20_000),
  /** Longest a fetch waits for data (ms). Lower = faster rebalances and shutdowns, more requests. */
  maxWaitTime: int(10, 10_000).default(250),
  connectionTimeout: int(100, 120_000).default(3_000),
  requestTimeout: int(1_000, 300_000).default(30_000),
  /** Max bytes of messages sent to the broker in one produce request (micro-batching). */
  maxBatchBytes: int(1_024, 16 * 1024 * 1024).default(900_000),
};

type UrlOptions = z.infer<z.ZodObject<typeof optionsShape>>;

export type KafkaSettings = Omit<UrlOptions, 'clientId' | 'sasl'> & {
  readonly brokers: string[];
  readonly clientId: string;
  readonly sasl: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | undefined;
  /** The URL without credentials, for logs and health. */
  readonly redacted: string;
};

export function parseKafkaUrl(url: URL, service: string, hosts: readonly string[] = []): KafkaSettings {
  const redacted = redactUrl(url);
  const options = parseUrlOptions(url, optionsShape, 'kafka');
  if (url.pathname !== '' && url.pathname !== '/') {
    // Not the path itself: a password with an unencoded "/" lands there (kafka://u:12/secret@host).
    throw new ConfigurationError(`The kafka URL takes no path (got ${redacted}). Use kafka://host:port[?options]; percent-encode "/" in a password as %2F.`);
  }
  if (!url.hostname) throw new ConfigurationError(`The kafka URL needs a broker host: kafka://host:9092 (got ${redacted}).`);
  const first = `${url.hostname}:${url.port || '9092'}`;
  const extra = hosts.slice(1).map((h) => (/:\d+$/.test(h) ? h : `${h}:9092`));
  for (const broker of extra) {
    if (!hostPort.test(broker)) throw new ConfigurationError(`Invalid broker "${broker}" in the kafka URL: use kafka://host:port[,host:port].`);
  }
  if (options.heartbeatInterval >= options.sessionTimeout) {
    throw new ConfigurationError(
      `kafka option heartbeatInterval (${options.heartbeatInterval}) must be below sessionTimeout (${options.sessionTimeout}); about a third of it is usual.`,
    );
  }
  const username = decodeUrlPart(url.username, 'kafka', 'user info');
  const password = decodeUrlPart(url.password, 'kafka', 'user info');
  let sasl: KafkaSettings['sasl'];
  if (options.sasl !== undefined || username !== '') {
    if (username === '' || password === '') {
      throw new ConfigurationError(`kafka SASL needs a username and password in the URL: kafka://user:password@host:9092?sasl=${options.sasl ?? 'plain'} (got ${redacted}).`);
    }
    sasl = { mechanism: options.sasl ?? 'plain', username, password };
  }
  const brokers = [first, ...extra.filter((b) => b !== first)];
  return { ...options, brokers, clientId: options.clientId ?? `switchyard-${service}`, sasl, redacted };
}
