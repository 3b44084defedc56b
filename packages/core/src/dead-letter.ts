import { Attr, BINARY_TYPE, DeadLetterHeader, isSupportedSpecVersion } from './codec.js';
import { DecodeError, errorMessage } from './errors.js';
import type { Transport, WireMessage } from './spi.js';
import { countDeadLettered } from './telemetry.js';

export interface DeadLetterTarget {
  readonly transport: Transport;
  readonly topic: string;
  readonly group: string;
  /** false: drop after the last attempt (logged by the caller). */
  readonly deadLetterTopic: string | false;
}

/** Max characters of an error message kept in x-switchyard-error (headers have limits on every broker). */
const MAX_ERROR_LENGTH = 1024;

/**
 * Republish to the dead-letter topic with body and headers intact plus the x-switchyard-* error
 * headers. Resolves once the broker confirmed the write; the caller acks the original only then.
 */
export async function deadLetter(target: DeadLetterTarget, wire: WireMessage, error: unknown, attempts: number): Promise<void> {
  if (target.deadLetterTopic === false) return;
  const reason = errorMessage(error)
    .replace(/[\r\n\0]+/g, ' ')
    .slice(0, MAX_ERROR_LENGTH);
  const headers: Record<string, string> = {
    ...wire.headers,
    [DeadLetterHeader.error]: reason,
    [DeadLetterHeader.attempts]: String(attempts),
    [DeadLetterHeader.originalTopic]: target.topic,
    [DeadLetterHeader.group]: target.group,
    [DeadLetterHeader.failedAt]: new Date().toISOString(),
  };
  // The emulated-delay marker must not hold the dead letter back.
  delete headers[Attr.notBefore];
  // Bytes that could not be decoded would fail again in the DLQ: label them as raw bytes and keep the claimed type.
  if (error instanceof DecodeError) {
    const claimed = wire.headers[Attr.contentType];
    if (claimed !== undefined) headers[DeadLetterHeader.originalContentType] = claimed;
    headers[Attr.contentType] = BINARY_TYPE;
    // Likewise an unsupported CloudEvents version: without ce-specversion it reads as a plain message.
    const version = wire.headers[Attr.specversion];
    if (version !== undefined && !isSupportedSpecVersion(version)) {
      headers[DeadLetterHeader.originalSpecVersion] = version;
      delete headers[Attr.specversion];
    }
  }
  const message: WireMessage = wire.key === undefined ? { body: wire.body, headers } : { body: wire.body, headers, key: wire.key };
  await target.transport.publish({ topic: target.deadLetterTopic, message });
  countDeadLettered({ system: target.transport.name, topic: target.topic, group: target.group });
}
