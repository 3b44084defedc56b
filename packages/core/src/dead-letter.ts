import { Attr, BINARY_TYPE, CE_PREFIX, DeadLetterHeader, InternalHeader, isSupportedSpecVersion } from './codec.js';
import { DecodeError, errorMessage } from './errors.js';
import { DEAD_LETTER_HEADROOM_BYTES, headerBytes, headerLimits, PORTABLE_LIMITS, singleLine, truncateUtf8 } from './limits.js';
import type { Transport, WireMessage } from './spi.js';
import { countDeadLettered, telemetryTarget, traceForward } from './telemetry.js';

export interface DeadLetterTarget {
  readonly transport: Transport;
  readonly topic: string;
  readonly group: string;
  /** false: drop after the last attempt (logged by the caller). */
  readonly deadLetterTopic: string | false;
}

/** Most of an error message kept in x-switchyard-error, in UTF-8 bytes (Pub/Sub's attribute limit). */
const MAX_ERROR_BYTES = 1024;

/** Headers a dead-letter copy keeps whatever their size: the message's identity and meaning. */
const isProtected = (name: string) => name.startsWith(CE_PREFIX) || name === Attr.contentType;

/**
 * Republish to the dead-letter topic with body and headers intact plus the x-switchyard-* error
 * headers. Resolves once the broker confirmed the write; the caller acks the original only then.
 */
export async function deadLetter(target: DeadLetterTarget, wire: WireMessage, error: unknown, attempts: number, form: CopyForm = 'full'): Promise<void> {
  const topic = target.deadLetterTopic;
  if (topic === false) return;
  const telemetry = telemetryTarget(target.transport);
  const message = deadLetterCopy(target, wire, error, attempts, form);
  await traceForward(telemetry, topic, message, () => target.transport.publish({ topic, message }));
  countDeadLettered(telemetry, target.topic, target.group, error);
}

/**
 * The copy, built to fit the transport's limits so a message that was accepted can always be
 * dead-lettered. A message core published fits with the error headers added (transports accept
 * DEAD_LETTER_HEADROOM_BYTES above their declared limits); one from a foreign producer may not,
 * so its largest user headers are dropped and named in x-switchyard-dropped-headers.
 */
export function deadLetterCopy(target: DeadLetterTarget, wire: WireMessage, error: unknown, attempts: number, form: CopyForm = 'full'): WireMessage {
  const limits = headerLimits(target.transport.capabilities);
  const headers: Record<string, string> = form === 'full' ? { ...wire.headers } : pick(wire.headers, MINIMAL_HEADERS);
  // Delivery instructions for the original's group must not steer the dead letter.
  delete headers[Attr.notBefore];
  delete headers[InternalHeader.forGroup];
  delete headers[InternalHeader.priorAttempts];
  // Bytes that could not be decoded would fail again in the DLQ: label them as raw bytes and keep the claimed type.
  if (error instanceof DecodeError) {
    const claimed = wire.headers[Attr.contentType];
    if (claimed !== undefined) headers[DeadLetterHeader.originalContentType] = truncateUtf8(claimed, limits.valueBytes);
    headers[Attr.contentType] = BINARY_TYPE;
    // Likewise an unsupported CloudEvents version: without ce-specversion it reads as a plain message.
    const version = wire.headers[Attr.specversion];
    if (version !== undefined && !isSupportedSpecVersion(version)) {
      headers[DeadLetterHeader.originalSpecVersion] = truncateUtf8(version, limits.valueBytes);
      delete headers[Attr.specversion];
    }
  }
  Object.assign(headers, {
    [DeadLetterHeader.attempts]: String(attempts),
    [DeadLetterHeader.originalTopic]: target.topic,
    [DeadLetterHeader.group]: target.group,
    [DeadLetterHeader.failedAt]: new Date().toISOString(),
  });
  const budget = limits.totalBytes + DEAD_LETTER_HEADROOM_BYTES;
  const reserveForError = DeadLetterHeader.error.length + 128;
  const dropped: string[] = form === 'full' ? [] : ['(all but the CloudEvents id, type, source, time)'];
  // A foreign key past the portable limit would take the whole header budget (on AMQP it is a header).
  let key = form === 'full' ? wire.key : undefined;
  if (key !== undefined && Buffer.byteLength(key) > PORTABLE_LIMITS.keyBytes) {
    key = undefined;
    dropped.push('(key)');
  }
  // Values past the limit go whatever they are (no broker takes them); then the largest user
  // headers, which free the most room; CloudEvents attributes only as a last resort.
  const bySize = (a: string, b: string) => Buffer.byteLength(headers[b]!) - Buffer.byteLength(headers[a]!);
  const own = Object.keys(headers).filter((name) => !name.startsWith('x-switchyard-'));
  const candidates = [...own.filter((n) => !isProtected(n)).sort(bySize), ...own.filter(isProtected).sort(bySize)];
  for (const name of candidates) {
    const tooLong = Buffer.byteLength(headers[name]!) > limits.valueBytes;
    if (!tooLong && headerBytes(headers, key) + reserveForError <= budget) continue;
    delete headers[name];
    dropped.push(name);
  }
  if (dropped.length > 0) headers[DeadLetterHeader.droppedHeaders] = truncateUtf8(dropped.join(','), limits.valueBytes);
  const room = budget - headerBytes(headers, key) - DeadLetterHeader.error.length;
  const reason = singleLine(errorMessage(error));
  headers[DeadLetterHeader.error] = truncateUtf8(reason, Math.max(0, Math.min(MAX_ERROR_BYTES, limits.valueBytes, room)));
  const body = form === 'full' ? fitBody(target, wire.body, headers, key) : omitBody(wire.body, headers);
  return key === undefined ? { body, headers } : { body, headers, key };
}

/**
 * 'full': body, key and headers (cut to fit). 'minimal': what is left when the broker refused the
 * full copy as too large or invalid — CloudEvents identity and the x-switchyard-* headers, no
 * body, no key — so a dead-letter publish that can never succeed is not retried for ever.
 */
export type CopyForm = 'full' | 'minimal';

const MINIMAL_HEADERS = [Attr.id, Attr.type, Attr.source, Attr.time, Attr.specversion, Attr.correlationId];

function pick(headers: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) if (headers[name] !== undefined) out[name] = headers[name]!;
  return out;
}

function omitBody(body: Uint8Array, headers: Record<string, string>): Uint8Array {
  if (body.byteLength > 0) headers[DeadLetterHeader.bodyOmitted] = String(body.byteLength);
  headers[Attr.contentType] = BINARY_TYPE;
  return new Uint8Array(0);
}

/**
 * A foreign message can be larger than the transport accepts for a dead-letter copy (e.g. a Kafka
 * record near the broker's own limit). Retrying such a publish could never succeed, so the copy
 * goes without its body: headers intact, x-switchyard-body-omitted with the body's size. The
 * original stays where it was (e.g. in the Kafka log until retention); the caller logs it.
 */
function fitBody(target: DeadLetterTarget, body: Uint8Array, headers: Record<string, string>, key: string | undefined): Uint8Array {
  const limit = target.transport.capabilities.maxPayloadBytes + DEAD_LETTER_HEADROOM_BYTES;
  if (body.byteLength + headerBytes(headers, key) <= limit) return body;
  headers[DeadLetterHeader.bodyOmitted] = String(body.byteLength);
  const claimed = headers[Attr.contentType];
  if (claimed !== undefined && headers[DeadLetterHeader.originalContentType] === undefined) headers[DeadLetterHeader.originalContentType] = claimed;
  headers[Attr.contentType] = BINARY_TYPE;
  return new Uint8Array(0);
}
