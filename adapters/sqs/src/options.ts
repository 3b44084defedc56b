/**
 * sqs://[host[:port]][?options] → validated settings. See the README for each option.
 *
 *   sqs://127.0.0.1:9324                 a local server (ElasticMQ): plain http, us-east-1, local test credentials
 *   sqs://?region=eu-west-1              Amazon SQS: the region's endpoint, the standard credential chain
 *   sqs://sqs.eu-west-1.amazonaws.com    an explicit endpoint (https unless tls=false)
 */
import { z } from 'zod';
import { ConfigurationError } from '@switchyard/core';
import { booleanOption, parseUrlOptions } from '@switchyard/core/spi';

export const optionsShape = {
  /** AWS region. Default: us-east-1 on a loopback host, else the SDK's (AWS_REGION, shared config file). */
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as us-east-1')
    .optional(),
  /** FIFO queues: per-key order (MessageGroupId = key) and native dedup (MessageDeduplicationId = message id). */
  fifo: booleanOption.default(false),
  /** First part of every queue name this adapter creates. */
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,12}$/, 'use 1-12 letters, digits or "-"')
    .default('sy'),
  /** Visibility timeout of each receive (s): the lease core extends while it holds a message. */
  visibilityTimeout: z.coerce.number().int().min(3).max(43_200).default(30),
  /** Long-poll wait of each receive (s). */
  waitTimeSeconds: z.coerce.number().int().min(1).max(20).default(5),
  /** How long a topic's list of group queues is trusted before a publish lists them again (ms). */
  groupCacheMs: z.coerce.number().int().min(0).max(300_000).default(1000),
  /** How long a publish retries an unreachable endpoint before failing with ConnectionError (ms). */
  publishTimeoutMs: z.coerce.number().int().min(0).max(600_000).default(30_000),
  /** SQS redrive backstop: a message received this many times more than core's maxAttempts moves to the group's dead-letter queue. 0: no redrive policy. */
  redriveMargin: z.coerce.number().int().min(0).max(900).default(10),
  /** https (default except on loopback hosts). */
  tls: booleanOption.optional(),
};

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export type SqsOptions = z.infer<z.ZodObject<typeof optionsShape>>;

export interface SqsSettings {
  readonly options: SqsOptions;
  readonly region: string | undefined;
  /** Endpoint URL, or undefined for the region's AWS endpoint. Never carries credentials. */
  readonly endpoint: string | undefined;
  /** Fixed credentials for a local server; undefined: the SDK's standard credential chain. */
  readonly credentials: Credentials | undefined;
  readonly leaseMs: number;
}

/** What a local server gets when no AWS credentials are configured (ElasticMQ and LocalStack accept any). */
export const LOCAL_CREDENTIALS: Credentials = { accessKeyId: 'switchyard-local', secretAccessKey: 'switchyard-local' };

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;

export function parseSqsUrl(url: URL, env: NodeJS.ProcessEnv = process.env): SqsSettings {
  if (url.username !== '' || url.password !== '') {
    throw new ConfigurationError(
      'sqs URLs carry no credentials: remove the user info and configure AWS credentials the standard way (environment, shared config file, instance role).',
    );
  }
  if (url.pathname !== '' && url.pathname !== '/') throw new ConfigurationError('sqs URLs have no path: use sqs://host[:port]?options.');
  const options = parseUrlOptions(url, optionsShape, 'sqs');
  if (url.port !== '' && !/^\d+$/.test(url.port)) throw new ConfigurationError('sqs URL port must be a number.');
  const host = url.hostname;
  const loopback = LOOPBACK.test(host);
  const tls = options.tls ?? !loopback;
  let endpoint: string | undefined;
  if (host !== '') endpoint = `${tls ? 'https' : 'http'}://${url.host}${url.port === '' && loopback ? ':9324' : ''}`;
  else if (options.tls === false) throw new ConfigurationError('sqs URL option tls=false needs a host (the AWS endpoints are https only).');
  const region = options.region ?? (loopback ? 'us-east-1' : undefined);
  const configured = env['AWS_ACCESS_KEY_ID'] !== undefined || env['AWS_PROFILE'] !== undefined;
  return {
    options,
    region,
    endpoint,
    credentials: loopback && !configured ? LOCAL_CREDENTIALS : undefined,
    leaseMs: options.visibilityTimeout * 1000,
  };
}
