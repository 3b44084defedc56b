/**
 * gcppubsub://PROJECT[?options] → validated settings.
 *
 * On Google Cloud the client authenticates with application default credentials (never from the
 * URL). With `emulator=host:port` (or $PUBSUB_EMULATOR_HOST) it talks plain gRPC to an emulator.
 */
import { z } from 'zod';
import { ConfigurationError } from '@switchyard/core';
import { booleanOption, parseUrlOptions, redactUrl } from '@switchyard/core/spi';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const hostPort = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?):\d{1,5}$/i;

export const optionsShape = {
  /** host:port of a Pub/Sub emulator. Default: $PUBSUB_EMULATOR_HOST, else Google Cloud. */
  emulator: z.string().regex(hostPort, 'host:port, e.g. 127.0.0.1:8085').optional(),
  /** Ack deadline of the subscriptions this transport creates (s): the lease core extends. */
  ackDeadlineSeconds: int(10, 600).default(10),
  /** Longest one pull request waits for messages (ms); also bounds how long close() waits for it. */
  pullWaitMs: int(1_000, 60_000).default(3_000),
  /** Deadline of one publish (ms), the client's own retries included. */
  publishTimeoutMs: int(1_000, 300_000).default(30_000),
  /** How long connect() waits for the first answer (ms). */
  connectTimeoutMs: int(500, 120_000).default(10_000),
  /**
   * Set a dead-letter policy on subscriptions as a crash-loop backstop above core's maxAttempts.
   * Default: on Google Cloud yes; on an emulator no (Google's emulator neither forwards nor
   * redelivers a message of a subscription with ordering once it passes the policy's attempts).
   */
  deadLetterBackstop: booleanOption.optional(),
};

export interface PubSubSettings {
  readonly projectId: string;
  /** host:port of the emulator, or undefined for Google Cloud. */
  readonly emulator: string | undefined;
  readonly ackDeadlineSeconds: number;
  readonly pullWaitMs: number;
  readonly publishTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly deadLetterBackstop: boolean;
  /** The URL without secrets, for logs and health. */
  readonly redacted: string;
}

/** Google Cloud project ids: 6–30 lowercase letters, digits and hyphens, starting with a letter. */
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

export function parsePubSubUrl(url: URL, env: NodeJS.ProcessEnv = process.env): PubSubSettings {
  const redacted = redactUrl(url);
  if (url.username !== '' || url.password !== '') {
    throw new ConfigurationError(
      `The gcppubsub URL takes no credentials (got ${redacted}): on Google Cloud the client uses application default credentials (GOOGLE_APPLICATION_CREDENTIALS or the metadata server).`,
    );
  }
  const options = parseUrlOptions(url, optionsShape, 'gcppubsub');
  if (url.port !== '' || (url.pathname !== '' && url.pathname !== '/')) {
    throw new ConfigurationError(`The gcppubsub URL is gcppubsub://PROJECT[?options], with no port or path (got ${redacted}). Give an emulator as ?emulator=host:port.`);
  }
  const projectId = url.hostname;
  if (!PROJECT_ID.test(projectId)) {
    throw new ConfigurationError(
      `"${projectId}" in ${redacted} is not a Google Cloud project id: 6 to 30 lowercase letters, digits or hyphens, starting with a letter (e.g. gcppubsub://my-project).`,
    );
  }
  const fromEnv = env['PUBSUB_EMULATOR_HOST']?.trim();
  if (options.emulator === undefined && fromEnv && !hostPort.test(fromEnv)) {
    throw new ConfigurationError(`PUBSUB_EMULATOR_HOST must be host:port (e.g. 127.0.0.1:8085); got "${fromEnv}".`);
  }
  const emulator = options.emulator ?? (fromEnv || undefined);
  return {
    projectId,
    emulator,
    ackDeadlineSeconds: options.ackDeadlineSeconds,
    pullWaitMs: options.pullWaitMs,
    publishTimeoutMs: options.publishTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    deadLetterBackstop: options.deadLetterBackstop ?? emulator === undefined,
    redacted,
  };
}
