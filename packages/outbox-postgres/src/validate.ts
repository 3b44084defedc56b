/**
 * The checks bus.publish makes before sending, made here before the row is written, so a message
 * the relay could never publish fails in the caller's transaction instead of being parked later.
 *
 * Core has no public "validate a publish" function, so these mirror its portable rules (names.ts,
 * limits.ts) using its exported constants. What depends on the transport (maxPayloadBytes, a
 * transport's smaller header limits) can only be checked by the relay's bus; a row failing there
 * is parked at once with the bus's error.
 */
import { PORTABLE_LIMITS, PORTABLE_NAME, ValidationError, type Contract, type PublishOptions } from '@switchyard/core';

export const PUBLISH_OPTIONS = ['key', 'headers', 'id', 'correlationId', 'causationId', 'delayMs', 'contentType'] as const;

/** bus.publish accepts delays up to one day. */
export const MAX_DELAY_MS = 86_400_000;

/** traceparent + tracestate, added at publish time; core keeps this much of the header budget free. */
const TRACE_CONTEXT_RESERVE_BYTES = 1024;

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f\u0085\u2028\u2029]/;
const HEADER_NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/i;
const RESERVED_PREFIXES = ['ce-', 'ce_', 'cloudevents', 'x-switchyard-', 'content-type', 'traceparent', 'tracestate'];

export function assertTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || !PORTABLE_NAME.test(topic)) {
    throw new ValidationError(
      `Invalid topic name ${JSON.stringify(topic)}: use 1-200 characters of letters, digits, ".", "_" or "-", ` +
        `starting with a letter or digit (pattern ${PORTABLE_NAME.source}), so it maps to every broker.`,
    );
  }
}

export function assertPublishOptions(options: unknown): asserts options is PublishOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ValidationError('outbox.publish options must be an object.');
  const unknown = Object.keys(options).filter((k) => !(PUBLISH_OPTIONS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new ValidationError(`Unknown outbox.publish option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}. Allowed: ${PUBLISH_OPTIONS.join(', ')}.`);
  }
  const o = options as PublishOptions;
  if (o.id !== undefined) assertIdentifier('id', o.id);
  if (o.correlationId !== undefined) assertIdentifier('correlationId', o.correlationId);
  if (o.causationId !== undefined) assertIdentifier('causationId', o.causationId);
  if (o.key !== undefined) assertKey(o.key);
  if (o.headers !== undefined) assertHeaders(o.headers, o.key);
  if (o.contentType !== undefined) assertContentType(o.contentType);
  if (o.delayMs !== undefined && (!Number.isInteger(o.delayMs) || o.delayMs < 0 || o.delayMs > MAX_DELAY_MS)) {
    throw new ValidationError(`delayMs must be an integer from 0 to ${MAX_DELAY_MS}; got ${String(o.delayMs)}.`);
  }
}

function assertIdentifier(what: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) throw new ValidationError(`${what} must be a non-empty string; got ${describe(value)}.`);
  const bytes = Buffer.byteLength(value);
  if (bytes > PORTABLE_LIMITS.idBytes) {
    throw new ValidationError(
      `${what} is ${bytes} bytes; ids travel as headers and may be at most ${PORTABLE_LIMITS.idBytes} bytes. Use a shorter id (a UUID or a hash of the long value).`,
    );
  }
  if (CONTROL.test(value)) throw new ValidationError(`${what} contains a line break or control character; ids must be single-line text.`);
}

function assertKey(key: unknown): void {
  if (typeof key !== 'string' || key.length === 0) throw new ValidationError(`key must be a non-empty string; got ${describe(key)}.`);
  const bytes = Buffer.byteLength(key);
  if (bytes > PORTABLE_LIMITS.keyBytes) throw new ValidationError(`key is ${bytes} bytes; at most ${PORTABLE_LIMITS.keyBytes}. Use a shorter key (e.g. a hash).`);
  if (CONTROL.test(key)) throw new ValidationError('key contains a line break or control character; keys must be single-line text.');
}

function assertHeaders(headers: unknown, key: string | undefined): void {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || !isPlainObject(headers)) {
    throw new ValidationError(`headers must be an object of string values, e.g. { tenant: 'acme' }; got ${Array.isArray(headers) ? 'an array' : typeof headers}.`);
  }
  let total = (key === undefined ? 0 : Buffer.byteLength(key)) + TRACE_CONTEXT_RESERVE_BYTES;
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) {
      throw new ValidationError(`Invalid header name ${JSON.stringify(name)}: use letters, digits, ".", "_" or "-" (max 128), starting with a letter or digit.`);
    }
    if (RESERVED_PREFIXES.some((p) => name.toLowerCase().startsWith(p))) {
      throw new ValidationError(
        `Header "${name}" is reserved for Switchyard's CloudEvents metadata; pick another name or use the matching publish option (id, correlationId, contentType).`,
      );
    }
    if (typeof value !== 'string') throw new ValidationError(`Header "${name}" must be a string, got ${typeof value}. Convert it with String(value).`);
    if (CONTROL.test(value)) {
      throw new ValidationError(`Header "${name}" contains a line break or control character, which brokers cannot carry safely; encode it (e.g. encodeURIComponent).`);
    }
    const bytes = Buffer.byteLength(value);
    if (bytes > PORTABLE_LIMITS.headerValueBytes) {
      throw new ValidationError(`Header "${name}" is ${bytes} bytes; a header value may be at most ${PORTABLE_LIMITS.headerValueBytes} bytes. Move large data into the body.`);
    }
    total += Buffer.byteLength(name) + bytes;
  }
  // The CloudEvents headers the bus adds count too; the relay's bus makes the exact check.
  if (total > PORTABLE_LIMITS.headerBytes) {
    throw new ValidationError(
      `Headers take ${total} bytes (names, values, key and ${TRACE_CONTEXT_RESERVE_BYTES} reserved for trace context); at most ${PORTABLE_LIMITS.headerBytes} travel on every broker. ` +
        'Send fewer or shorter headers and move data into the body.',
    );
  }
}

function assertContentType(contentType: unknown): void {
  if (typeof contentType !== 'string' || contentType.length === 0) {
    throw new ValidationError(`contentType must be a media type string such as "text/csv"; got ${describe(contentType)}.`);
  }
  if (Buffer.byteLength(contentType) > PORTABLE_LIMITS.contentTypeBytes || CONTROL.test(contentType)) {
    throw new ValidationError(`contentType must be a single-line media type of at most ${PORTABLE_LIMITS.contentTypeBytes} bytes, e.g. "text/csv; charset=utf-8".`);
  }
}

/** With a contract, bodies are checked against the topic's schema as bus.publish would. */
export function assertBodyMatchesContract(contract: Contract | undefined, topic: string, body: unknown): void {
  const spec = contract?.[topic];
  if (spec === undefined) return;
  const schema = 'safeParse' in spec ? spec : spec.request;
  const result = schema.safeParse(body);
  if (result.success) return;
  const issues = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
  throw new ValidationError(`Body for "${topic}" failed schema validation: ${issues.join('; ')}`, issues);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'an empty string';
  return typeof value;
}
