/**
 * CloudEvents binary-mode codec shared by every adapter.
 *
 * Core speaks one canonical header form (the CloudEvents HTTP binding's: `ce-id`, `ce-type`,
 * `ce-source`, `ce-time`, `ce-specversion`, extensions such as `ce-correlationid`, plus
 * `content-type`, `traceparent`, `tracestate` and user headers). Adapters translate the `ce-`
 * prefix to their broker's binding with `toBindingHeaders` / `fromBindingHeaders`
 * (Kafka: `ce_`, AMQP: `cloudEvents_`, NATS: `ce-` as is).
 */
import { createHash, randomUUID } from 'node:crypto';
import { cloudEventOf, extensionText, isExtension, isStructuredJson, parseEventTime, parseStructured, type StructuredEvent } from './cloudevent.js';
import { DecodeError, ValidationError } from './errors.js';
import type { Logger, PublishOptions, Message } from './types.js';
import type { WireMessage } from './spi.js';

export const CE_PREFIX = 'ce-';
export const SPEC_VERSION = '1.0';
export const JSON_TYPE = 'application/json';
export const TEXT_TYPE = 'text/plain; charset=utf-8';
export const BINARY_TYPE = 'application/octet-stream';

export const Attr = {
  id: 'ce-id',
  type: 'ce-type',
  source: 'ce-source',
  time: 'ce-time',
  specversion: 'ce-specversion',
  subject: 'ce-subject',
  dataschema: 'ce-dataschema',
  correlationId: 'ce-correlationid',
  causationId: 'ce-causationid',
  /** Earliest processing time (ISO) when the transport cannot delay natively; see spi.ts. */
  notBefore: 'ce-notbefore',
  contentType: 'content-type',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

/** Headers Switchyard itself puts on dead-lettered messages. */
export const DeadLetterHeader = {
  error: 'x-switchyard-error',
  attempts: 'x-switchyard-attempts',
  originalTopic: 'x-switchyard-original-topic',
  group: 'x-switchyard-group',
  failedAt: 'x-switchyard-failed-at',
  /** Set when undecodable bytes are dead-lettered as application/octet-stream. */
  originalContentType: 'x-switchyard-original-content-type',
  /** Set when a message with an unsupported ce-specversion is dead-lettered without it. */
  originalSpecVersion: 'x-switchyard-original-specversion',
  /** Headers of a foreign message left out so the dead-letter copy fits the broker's limits (comma-separated). */
  droppedHeaders: 'x-switchyard-dropped-headers',
  /** Set (to the body's size in bytes) when a foreign message's body was too large to dead-letter; the copy has no body. */
  bodyOmitted: 'x-switchyard-body-omitted',
} as const;

/** Headers core uses between its own instances (never user-settable: the x-switchyard- prefix is reserved). */
export const InternalHeader = {
  /**
   * A copy republished for one consumer group only (emulated delay beyond the short hold): other
   * groups of the topic settle it without handling it.
   */
  forGroup: 'x-switchyard-for-group',
  /**
   * On such a copy: the attempts the original already used, so `attempt` keeps growing across
   * the copy (the broker counts the copy's deliveries from 1). Only read together with forGroup.
   */
  priorAttempts: 'x-switchyard-prior-attempts',
} as const;

/** Request/reply extension attributes. */
export const ReplyAttr = {
  replyTo: 'ce-replyto',
  inReplyTo: 'ce-inreplyto',
  status: 'ce-replystatus',
  errorCode: 'ce-replyerrorcode',
} as const;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface EncodedBody {
  readonly bytes: Uint8Array;
  readonly contentType: string | undefined;
}

/** JSON by default; bytes as octet-stream; strings as text/plain; `contentType` overrides for bytes/strings. */
export function encodeBody(body: unknown, contentType?: string): EncodedBody {
  if (body instanceof Uint8Array) {
    // The caller owns these bytes and may reuse them while the publish awaits its confirm:
    // copy once here, so no transport has to (WireMessage is immutable from here on). Not
    // `body.slice()`: on a Buffer that is a view of the same memory, not a copy.
    return { bytes: new Uint8Array(body), contentType: contentType ?? BINARY_TYPE };
  }
  if (typeof body === 'string') {
    return { bytes: utf8Bytes(body), contentType: contentType ?? TEXT_TYPE };
  }
  if (contentType !== undefined && !isJson(contentType)) {
    throw new ValidationError(`contentType "${contentType}" needs a string or Uint8Array body; got ${typeof body}. Serialize the body yourself or drop contentType to send JSON.`);
  }
  if (body === undefined) return { bytes: new Uint8Array(0), contentType: contentType ?? JSON_TYPE };
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (err) {
    throw new ValidationError(`Body cannot be serialized as JSON: ${(err as Error).message}`, [], { cause: err });
  }
  if (text === undefined) {
    throw new ValidationError(`Body of type ${typeof body} cannot be serialized as JSON; send an object, array, string, number, boolean, null or Uint8Array.`);
  }
  return { bytes: utf8Bytes(text), contentType: contentType ?? JSON_TYPE };
}

/**
 * UTF-8 bytes of a string. Buffer.from, not TextEncoder: it carves small strings out of Node's
 * shared allocation pool instead of allocating each one, which made TextEncoder#encode the
 * largest single cost of a memory:// publish → handler (npm run bench, --cpu-prof).
 */
function utf8Bytes(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}

function isJson(contentType: string): boolean {
  if (contentType === JSON_TYPE) return true; // what Switchyard sends: no parsing of the label
  const base = contentType.split(';')[0]!.trim().toLowerCase();
  return base === JSON_TYPE || base.endsWith('+json');
}

function isText(contentType: string): boolean {
  return contentType.split(';')[0]!.trim().toLowerCase().startsWith('text/');
}

export function decodeBody(bytes: Uint8Array, contentType: string | undefined): unknown {
  const type = contentType ?? BINARY_TYPE;
  if (isJson(type)) {
    if (bytes.byteLength === 0) return undefined;
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch (err) {
      throw new DecodeError(`Body labelled ${type} is not valid UTF-8`, { cause: err });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new DecodeError(`Body labelled ${type} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (isText(type)) {
    try {
      return strictUtf8.decode(bytes);
    } catch (err) {
      throw new DecodeError(`Body labelled ${type} is not valid UTF-8`, { cause: err });
    }
  }
  return bytes;
}

export interface EnvelopeInput {
  readonly topic: string;
  readonly source: string;
  readonly body: unknown;
  readonly options: PublishOptions;
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly extraHeaders?: Readonly<Record<string, string>>;
}

/** The current time as ce-time (RFC 3339 in UTC with milliseconds, as Date#toISOString writes it). */
export function isoNow(): string {
  return isoTime(Date.now());
}

let lastMs = Number.NaN;
let lastIso = '';
let lastSecond = Number.NaN;
let secondPrefix = '';
/**
 * `new Date(ms).toISOString()`, for ms of years 0–9999. Messages published within one millisecond
 * share the string, and within one second its first 20 characters: toISOString costs about 0.5 µs
 * even when hot, more on a request path that ran cold while it waited a round trip, and every
 * sequential publish and reply is in a millisecond of its own.
 */
export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso;
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20); // "YYYY-MM-DDTHH:MM:SS."
  }
  const millis = ms - second * 1000;
  lastMs = ms;
  lastIso = `${secondPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  return lastIso;
}

/** A wire message built for one publish, whose headers that publish may still add to (trace context). */
export interface OwnedWire extends WireMessage {
  readonly headers: Record<string, string>;
}

/** Build the wire form of a publish: body bytes + CloudEvents headers + user headers. */
export function encodeMessage(input: EnvelopeInput): { id: string; wire: OwnedWire } {
  const { options } = input;
  const id = options.id ?? randomUUID();
  const encoded = encodeBody(input.body, options.contentType);
  // Copied name by name, not spread: V8 makes adding the attributes below to a spread copy ~100× slower.
  const headers: Record<string, string> = {};
  if (options.headers !== undefined) for (const name in options.headers) headers[name] = options.headers[name]!;
  headers[Attr.specversion] = SPEC_VERSION;
  headers[Attr.id] = id;
  headers[Attr.type] = input.topic;
  headers[Attr.source] = input.source;
  headers[Attr.time] = isoNow();
  headers[Attr.correlationId] = options.correlationId ?? input.correlationId ?? id;
  const causation = options.causationId ?? input.causationId;
  if (causation !== undefined) headers[Attr.causationId] = causation;
  if (options.subject !== undefined) headers[Attr.subject] = options.subject;
  if (options.dataschema !== undefined) headers[Attr.dataschema] = options.dataschema;
  if (options.extensions !== undefined) for (const name in options.extensions) headers[CE_PREFIX + name] = extensionText(name, options.extensions[name]);
  // An event without data has no datacontenttype (CloudEvents); bindings then send no payload (Kafka: a null value).
  const noData = input.body === undefined && options.contentType === undefined;
  if (encoded.contentType !== undefined && !noData) headers[Attr.contentType] = encoded.contentType;
  if (input.extraHeaders !== undefined) for (const name in input.extraHeaders) headers[name] = input.extraHeaders[name]!;
  const wire: OwnedWire = options.key === undefined ? { body: encoded.bytes, headers } : { body: encoded.bytes, headers, key: options.key };
  return { id, wire };
}

const METADATA_HEADERS = new Set<string>([Attr.contentType, Attr.traceparent, Attr.tracestate]);

/** User-visible headers: everything but CloudEvents attributes and trace context. */
export function userHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(CE_PREFIX) || METADATA_HEADERS.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Called when a message's ce-time cannot be read (the message then gets its receive time). */
export type BadTimeReporter = (topic: string, value: string) => void;

/**
 * Warns once per topic that producers send an unreadable ce-time: the messages are still handled
 * (with their receive time as timestamp), so a warning per message would only flood the log.
 */
export function warnBadTimeOnce(logger: Logger): BadTimeReporter {
  const warned = new Set<string>();
  return (topic, value) => {
    if (warned.has(topic)) return;
    warned.add(topic);
    logger.warn('A message has a ce-time that is neither RFC 3339 nor epoch milliseconds; using its receive time as msg.timestamp (warned once per topic)', {
      topic,
      time: value.slice(0, 64),
    });
  };
}

/**
 * Decode a received wire message. A message from a plain client without a `ce-id` gets an id
 * derived from `brokerId` (the transport's stable identity for it, see Delivery), so idempotent
 * handlers still recognise its redeliveries; without one, a fresh id per delivery. A structured
 * CloudEvent (`application/cloudevents+json`) is read as its attributes plus its data.
 */
export function decodeMessage<T>(wire: WireMessage, topic: string, attempt: number, brokerId?: string, onBadTime?: BadTimeReporter): Message<T> {
  let h = wire.headers;
  let contentType = h[Attr.contentType];
  let body: unknown;
  const event = isStructuredJson(contentType) ? structuredEvent(wire) : undefined;
  if (event !== undefined) {
    // The envelope is the event; binding headers beside it (trace context, user headers) stay.
    const merged: Record<string, string> = { ...h, ...event.headers };
    // The JSON format: data without datacontenttype is JSON.
    if (event.headers[Attr.contentType] === undefined) {
      if (event.data !== undefined && 'value' in event.data) merged[Attr.contentType] = JSON_TYPE;
      else delete merged[Attr.contentType];
    }
    h = merged;
    contentType = h[Attr.contentType];
    assertSpecVersion(h[Attr.specversion]);
    body = structuredData(event, contentType);
  } else {
    assertSpecVersion(h[Attr.specversion]);
    // A CloudEvent without datacontenttype and without bytes has no data (e.g. a null Kafka value).
    const noData = contentType === undefined && wire.body.byteLength === 0 && h[Attr.specversion] !== undefined;
    body = noData ? undefined : decodeBody(wire.body, contentType);
  }
  return buildMessage<T>(h, wire.key, topic, attempt, body as T, brokerId, onBadTime);
}

/**
 * The structured event in a message labelled application/cloudevents+json. A message that also
 * carries binary-mode attributes (ce-specversion) and whose body is not a CloudEvent is binary
 * mode with JSON data of that label (a Switchyard publish with that contentType): undefined.
 */
function structuredEvent(wire: WireMessage): StructuredEvent | undefined {
  try {
    return parseStructured(wire.body);
  } catch (err) {
    if (wire.headers[Attr.specversion] !== undefined) return undefined;
    throw err;
  }
}

/** A structured event's data as a binary-mode body of the same datacontenttype would decode. */
function structuredData(event: StructuredEvent, contentType: string | undefined): unknown {
  const data = event.data;
  if (data === undefined) return undefined;
  if ('bytes' in data) return decodeBody(data.bytes, contentType);
  // The JSON format: data without datacontenttype, or with a JSON one, is the JSON value itself.
  if (contentType === undefined || isJson(contentType) || typeof data.value !== 'string') return data.value;
  return isText(contentType) ? data.value : utf8.encode(data.value);
}

/** CloudEvents 1.x, or none at all (a plain client): other versions have other attributes and rules. */
export function isSupportedSpecVersion(version: string): boolean {
  return /^1(\.\d+)*$/.test(version.trim());
}

function assertSpecVersion(version: string | undefined): void {
  if (version === undefined || version === SPEC_VERSION || isSupportedSpecVersion(version)) return;
  throw new DecodeError(
    `Message has ce-specversion ${JSON.stringify(version)}; Switchyard reads CloudEvents 1.x only. ` +
      `Have the producer send ce-specversion ${SPEC_VERSION}, or no CloudEvents attributes at all.`,
  );
}

/** The message with an undecoded body, for dead-lettering what cannot be decoded. */
export function rawMessage(wire: WireMessage, topic: string, attempt: number): Message<Uint8Array> {
  return buildMessage(wire.headers, wire.key, topic, attempt, wire.body);
}

function buildMessage<T>(
  h: Readonly<Record<string, string>>,
  key: string | undefined,
  topic: string,
  attempt: number,
  body: T,
  brokerId?: string,
  onBadTime?: BadTimeReporter,
): Message<T> {
  // One pass over the headers: user headers and CloudEvents extensions side by side.
  const headers: Record<string, string> = {};
  const extensions: Record<string, string> = {};
  for (const name in h) {
    if (name.startsWith(CE_PREFIX)) {
      if (isExtension(name)) extensions[name.slice(CE_PREFIX.length)] = h[name]!;
    } else if (!METADATA_HEADERS.has(name)) headers[name] = h[name]!;
  }
  const id = h[Attr.id] ?? derivedId(topic, brokerId);
  const sentTime = h[Attr.time];
  const time = sentTime === undefined ? undefined : parseEventTime(sentTime);
  if (sentTime !== undefined && time === undefined) onBadTime?.(topic, sentTime);
  const msg: {
    -readonly [K in keyof Message<T>]: Message<T>[K];
  } = {
    id,
    topic,
    body,
    headers,
    correlationId: h[Attr.correlationId] ?? id,
    timestamp: time ?? new Date(),
    attempt,
    contentType: h[Attr.contentType] ?? BINARY_TYPE,
  };
  if (key !== undefined) msg.key = key;
  if (h[Attr.causationId] !== undefined) msg.causationId = h[Attr.causationId];
  const cloudEvent = cloudEventOf(h, time === undefined ? undefined : sentTime, extensions);
  if (cloudEvent !== undefined) msg.cloudEvent = cloudEvent;
  return msg;
}

/**
 * Not from the bytes: two identical messages from a plain client are two messages, and an
 * idempotent handler must run for each. The broker's identity for the message is stable across
 * redeliveries; without one, a random id (redeliveries then look like new messages).
 */
function derivedId(topic: string, brokerId: string | undefined): string {
  if (brokerId === undefined) return randomUUID();
  return `sha256-${createHash('sha256').update(`${topic}\n${brokerId}`).digest('hex').slice(0, 32)}`;
}

/** Canonical (`ce-`) headers → a binding's prefix, e.g. `ce_` for Kafka, `cloudEvents_` for AMQP. */
export function toBindingHeaders(headers: Readonly<Record<string, string>>, prefix: string): Record<string, string> {
  if (prefix === CE_PREFIX) return { ...headers };
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name.startsWith(CE_PREFIX) ? prefix + name.slice(CE_PREFIX.length) : name] = value;
  }
  return out;
}

/** A binding's headers → canonical (`ce-`) form. Prefix matching is case-insensitive, as the bindings allow. */
export function fromBindingHeaders(headers: Readonly<Record<string, string>>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lowerPrefix = prefix.toLowerCase();
  for (const [name, value] of Object.entries(headers)) {
    out[name.toLowerCase().startsWith(lowerPrefix) ? CE_PREFIX + name.slice(prefix.length).toLowerCase() : name] = value;
  }
  return out;
}

/** Bytes a message occupies on the wire (body + header names and values), for payload limits. */
export function wireSize(wire: WireMessage): number {
  let size = wire.body.byteLength + (wire.key === undefined ? 0 : Buffer.byteLength(wire.key));
  // for-in, not Object.entries: no array per header on every publish.
  for (const name in wire.headers) size += Buffer.byteLength(name) + Buffer.byteLength(wire.headers[name]!);
  return size;
}
