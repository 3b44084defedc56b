/**
 * The checks bus.publish makes on what it is given, before anything is sent. Shared with code
 * that stores a publish to send later (the PostgreSQL outbox), so a message that could never be
 * published fails where it is written, with the same error bus.publish would give.
 */
import { assertCloudEventOptions } from './cloudevent.js';
import { type Contract, messageSchema, validateBody } from './contract.js';
import { ValidationError } from './errors.js';
import { assertHeaderTotal, assertIdentifier, hasControlCharacter, type HeaderLimits, headerBytes, PORTABLE_LIMITS } from './limits.js';
import { assertHeaders, assertTopicName } from './names.js';
import { assertKnownOptions, intInRange } from './options.js';
import type { PublishOptions } from './types.js';

export const PUBLISH_OPTIONS = ['key', 'headers', 'id', 'correlationId', 'causationId', 'delayMs', 'contentType', 'subject', 'dataschema', 'extensions'] as const;

/** The longest publish delay: one day. */
export const MAX_DELAY_MS = 86_400_000;

const PORTABLE: HeaderLimits = { valueBytes: PORTABLE_LIMITS.headerValueBytes, totalBytes: PORTABLE_LIMITS.headerBytes };

/** Option names, types and byte limits; returns the delay. `where` names the call in errors. */
export function checkPublishOptions(options: unknown, limits: HeaderLimits, transport: string, where = 'publish'): number {
  assertKnownOptions(options as object | undefined, PUBLISH_OPTIONS, where);
  const o = (options ?? {}) as PublishOptions;
  if (o.headers !== undefined) assertHeaders(o.headers, limits, transport);
  if (o.key !== undefined) assertKey(o.key);
  if (o.id !== undefined) assertIdentifier('id', o.id);
  if (o.correlationId !== undefined) assertIdentifier('correlationId', o.correlationId);
  if (o.causationId !== undefined) assertIdentifier('causationId', o.causationId);
  if (o.contentType !== undefined) assertContentType(o.contentType);
  assertCloudEventOptions(o, limits, transport);
  return intInRange(o.delayMs, 0, 0, MAX_DELAY_MS, 'delayMs');
}

/**
 * Everything bus.publish checks that needs no transport, against the portable limits: topic name,
 * options, the user headers' share of the header budget, and the contract's schema for the body.
 * What depends on the broker (maxPayloadBytes, a smaller header limit) is checked at publish time.
 */
export function checkPublish(topic: unknown, body: unknown, options: unknown, contract?: Contract, where = 'publish'): void {
  assertTopicName(topic);
  checkPublishOptions(options, PORTABLE, 'every broker', where);
  const o = (options ?? {}) as PublishOptions;
  if (o.headers !== undefined) assertHeaderTotal(topic, headerBytes(o.headers, o.key), PORTABLE, 'every broker');
  validateBody(messageSchema(contract, topic), body, `Body for "${topic}"`);
}

function assertKey(key: unknown): void {
  if (typeof key !== 'string' || key.length === 0) throw new ValidationError(`key must be a non-empty string; got ${describe(key)}.`);
  const bytes = Buffer.byteLength(key);
  if (bytes > PORTABLE_LIMITS.keyBytes) throw new ValidationError(`key is ${bytes} bytes; at most ${PORTABLE_LIMITS.keyBytes}. Use a shorter key (e.g. a hash).`);
  if (hasControlCharacter(key)) throw new ValidationError('key contains a line break or control character; keys must be single-line text.');
}

function assertContentType(contentType: unknown): void {
  if (typeof contentType !== 'string' || contentType.length === 0) {
    throw new ValidationError(`contentType must be a media type string such as "text/csv"; got ${describe(contentType)}.`);
  }
  if (Buffer.byteLength(contentType) > PORTABLE_LIMITS.contentTypeBytes || hasControlCharacter(contentType)) {
    throw new ValidationError(`contentType must be a single-line media type of at most ${PORTABLE_LIMITS.contentTypeBytes} bytes, e.g. "text/csv; charset=utf-8".`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'an empty string';
  return typeof value;
}
