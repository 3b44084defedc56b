/**
 * Byte limits on message metadata, checked by core before anything is sent.
 *
 * Brokers fail badly on oversized metadata instead of refusing it cleanly (amqplib encodes the
 * header table into a fixed 64 KiB buffer; RabbitMQ closes the connection over an oversized
 * property; Pub/Sub caps attribute values at 1 KiB), so core refuses it up front with a typed
 * error. The effective limit is the smaller of core's portable limit (what travels on every
 * supported broker once its adapter maps it) and the transport's declared one.
 */
import { ValidationError } from './errors.js';
import type { Capabilities } from './types.js';

/** What core lets through on any transport, so an app that works on one broker works on all. */
export const PORTABLE_LIMITS = {
  /** One header value. */
  headerValueBytes: 4096,
  /** All header names + values + the key. */
  headerBytes: 16_384,
  /** id, correlationId, causationId. */
  idBytes: 256,
  /** Partition/ordering key. */
  keyBytes: 1024,
  /** content-type. */
  contentTypeBytes: 255,
} as const;

/**
 * What a dead-letter copy may add on top of an accepted message (x-switchyard-* headers). Every
 * transport must accept messages this much larger than its declared maxPayloadBytes and
 * maxHeaderBytes, so a message that was accepted can always be dead-lettered.
 */
export const DEAD_LETTER_HEADROOM_BYTES = 4096;

/** traceparent (55 bytes) + tracestate (at most 512) are added after the checks, at send time. */
export const TRACE_CONTEXT_RESERVE_BYTES = 1024;

export interface HeaderLimits {
  readonly valueBytes: number;
  readonly totalBytes: number;
}

export function headerLimits(caps: Capabilities): HeaderLimits {
  return {
    valueBytes: Math.min(PORTABLE_LIMITS.headerValueBytes, caps.maxHeaderValueBytes),
    totalBytes: Math.min(PORTABLE_LIMITS.headerBytes, caps.maxHeaderBytes),
  };
}

/**
 * Line breaks, NUL and other control characters (tab is allowed): header-based protocols split
 * on them or refuse them, and a header value must never smuggle in a second header.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f\u0085\u2028\u2029]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL_RUNS = /[\u0000-\u001f\u007f\u0085\u2028\u2029]+/g;

export function hasControlCharacter(text: string): boolean {
  return CONTROL.test(text);
}

/** Make text (an error message) safe for a header value: each run of control characters becomes one space. */
export function singleLine(text: string): string {
  return text.replace(CONTROL_RUNS, ' ');
}

/** An id, correlation id or causation id: a non-empty single-line string of at most 256 bytes. */
export function assertIdentifier(what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValidationError(`${what} must be a non-empty string; got ${describe(value)}.`);
  }
  const bytes = Buffer.byteLength(value);
  if (bytes > PORTABLE_LIMITS.idBytes) {
    throw new ValidationError(
      `${what} is ${bytes} bytes; ids travel as headers and may be at most ${PORTABLE_LIMITS.idBytes} bytes. Use a shorter id (a UUID or a hash of the long value).`,
    );
  }
  if (hasControlCharacter(value)) throw new ValidationError(`${what} contains a line break or control character; ids must be single-line text.`);
}

/** Whether an id received from elsewhere may be passed on (ctx.publish inherits correlation ids). */
export function isValidIdentifier(value: string | undefined): value is string {
  return value !== undefined && value.length > 0 && Buffer.byteLength(value) <= PORTABLE_LIMITS.idBytes && !hasControlCharacter(value);
}

export function assertHeaderValue(name: string, value: string, limits: HeaderLimits, transport: string): void {
  if (hasControlCharacter(value)) {
    throw new ValidationError(`Header "${name}" contains a line break or control character, which brokers cannot carry safely; encode it (e.g. encodeURIComponent).`);
  }
  const bytes = Buffer.byteLength(value);
  if (bytes > limits.valueBytes) {
    throw new ValidationError(
      `Header "${name}" is ${bytes} bytes; a header value may be at most ${limits.valueBytes} bytes on ${transport} (portable limit ${PORTABLE_LIMITS.headerValueBytes}). Move large data into the body.`,
    );
  }
}

/** Bytes of header names + values + key: what counts against the total header budget. */
export function headerBytes(headers: Readonly<Record<string, string>>, key: string | undefined): number {
  let size = key === undefined ? 0 : Buffer.byteLength(key);
  for (const name in headers) size += Buffer.byteLength(name) + Buffer.byteLength(headers[name]!);
  return size;
}

/** `bytes`: headerBytes() of the message's headers and key. */
export function assertHeaderTotal(topic: string, bytes: number, limits: HeaderLimits, transport: string): void {
  const total = bytes + TRACE_CONTEXT_RESERVE_BYTES;
  if (total > limits.totalBytes) {
    throw new ValidationError(
      `Message for "${topic}": headers take ${total} bytes (names, values, key and ${TRACE_CONTEXT_RESERVE_BYTES} reserved for trace context); ` +
        `${transport} carries at most ${limits.totalBytes} bytes of headers. Send fewer or shorter headers and move data into the body.`,
    );
  }
}

/** Cut to at most maxBytes of UTF-8 without splitting a character; an ellipsis marks the cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const ellipsis = '…'; // 3 bytes
  if (maxBytes < 3) return '';
  const bytes = Buffer.from(text).subarray(0, maxBytes - 3);
  // Drop a trailing partial character: back up over continuation bytes (10xxxxxx) to its lead byte.
  let end = bytes.length;
  let i = end - 1;
  while (i >= 0 && (bytes[i]! & 0xc0) === 0x80) i--;
  if (i >= 0) {
    const lead = bytes[i]!;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - i < need) end = i;
  }
  return bytes.subarray(0, end).toString('utf8') + ellipsis;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'an empty string';
  return typeof value;
}
