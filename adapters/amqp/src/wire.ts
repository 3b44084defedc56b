/**
 * WireMessage ↔ AMQP 0-9-1 message, following the CloudEvents AMQP protocol binding (binary mode):
 *   ce-<attr>           → application property (header) "cloudEvents_<attr>", the separator the binding
 *                         prefers (JMS 2.0 property names and selectors cannot contain ":");
 *                         "cloudEvents:<attr>" is accepted on receive too
 *   content-type        → the content-type message property
 *   key                 → "cloudEvents_partitionkey" (CloudEvents Partitioning extension)
 *   ce-id, ce-correlationid, ce-time → also messageId, correlationId, timestamp properties (informational)
 *   ce-replyto          → the reply-to property; a direct reply-to address (amq.rabbitmq.reply-to.<token>)
 *                         rides there only, any other address also as "cloudEvents_replyto". On
 *                         receive a direct reply-to address in reply-to (written by the broker) wins
 *   traceparent, tracestate, user headers → application properties as they are
 * Attribute values are sent in their canonical string form (the binding allows it; a native AMQP
 * 0-9-1 timestamp would lose ce-time's milliseconds). On receive, a native timestamp (seconds, as
 * AMQP 0-9-1 defines it) becomes an RFC 3339 string and an integer is passed on as digits, which
 * core reads as epoch milliseconds (the AMQP 1.0 timestamp unit).
 * Messages are persistent (delivery-mode 2).
 */
import type { ConsumeMessage, GetMessage, Options } from 'amqplib';
import type { WireMessage } from '@switchyard/core';
import { Attr, CE_PREFIX, DeadLetterHeader, ReplyAttr, remembered } from '@switchyard/core/spi';
import { isDirectReplyAddress } from './direct-reply.js';

/** What Switchyard sends: the binding's preferred separator. */
export const CE_AMQP_PREFIX = 'cloudEvents_';
/** Also read on receive (the binding allows either; older Switchyard versions sent it). */
export const CE_AMQP_PREFIX_ALT = 'cloudEvents:';
export const PARTITION_KEY = 'ce-partitionkey';
const PARTITION_KEY_HEADER = CE_AMQP_PREFIX + PARTITION_KEY.slice(CE_PREFIX.length);

/** Deliveries this message already used up before it was republished through a delay queue. */
export const DELIVERY_COUNT_HEADER = 'x-switchyard-delivery-count';
/** Selects the delay bucket queue on the delay (headers) exchange. Not x-: RabbitMQ's headers exchange ignores x- headers; a ":" keeps it out of user header space. */
export const DELAY_BUCKET_HEADER = 'switchyard:delay-bucket';
/** Quorum queues count returns (nack with requeue, consumer/channel/connection loss) here. */
export const QUORUM_DELIVERY_COUNT = 'x-delivery-count';

/** Broker- and adapter-added headers that are not part of the message. */
const INTERNAL_HEADERS = new Set([
  DELIVERY_COUNT_HEADER,
  DELAY_BUCKET_HEADER,
  QUORUM_DELIVERY_COUNT,
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
]);
const isInternal = (name: string) => INTERNAL_HEADERS.has(name) || name.startsWith('x-last-death-');

const SHORTSTR_MAX = 255;
/** A UTF-16 code unit takes at most 3 UTF-8 bytes: a string this long or shorter is a short string whatever it holds. */
const SURELY_SHORT = Math.floor(SHORTSTR_MAX / 3);

/** Whether `value` fits an AMQP short string (255 bytes), measuring its bytes only when its length leaves doubt. */
const isShortString = (value: string) => value.length <= SURELY_SHORT || Buffer.byteLength(value) <= SHORTSTR_MAX;

/** ce-<attr> → cloudEvents_<attr>; other names as they are (translated once per name: remembered). */
const amqpName = remembered((name) => (name.startsWith(CE_PREFIX) ? CE_AMQP_PREFIX + name.slice(CE_PREFIX.length) : name));

/** cloudEvents_<attr> or cloudEvents:<attr>, in any case → ce-<attr in lower case>; other names as they are. */
const BINDING_PREFIXES = [CE_AMQP_PREFIX.toLowerCase(), CE_AMQP_PREFIX_ALT.toLowerCase()];
const switchyardName = remembered((name) => {
  const lower = name.toLowerCase();
  const prefix = BINDING_PREFIXES.find((p) => lower.startsWith(p));
  return prefix === undefined ? name : CE_PREFIX + lower.slice(prefix.length);
});

/**
 * amqplib encodes a message's header table into one fixed 64 KiB buffer (SCRATCH in
 * amqplib/lib/defs.js). Past it, it either throws after it has already counted the publish for a
 * confirm (every later confirm on that channel is then misattributed) or silently truncates the
 * last value and sends a malformed frame (RabbitMQ closes the connection). Checked before sending.
 */
export const AMQPLIB_HEADER_TABLE_BYTES = 65_536;

/**
 * Bytes amqplib writes for a header table: 4 (table size), then per entry 1 + name, 1 (type) and
 * for a string 4 + value. Headers here are strings; anything else is counted as its String().
 */
export function headerTableBytes(headers: Readonly<Record<string, unknown>>): number {
  const entry = (name: string, value: unknown) => (value === undefined ? 0 : 1 + Buffer.byteLength(name) + 1 + 4 + Buffer.byteLength(String(value)));
  return Object.entries(headers).reduce((size, [name, value]) => size + entry(name, value), 4);
}

/** A header table amqplib can encode: names of at most 255 bytes, at most 64 KiB in all. */
export function checkHeaderTable(headers: Readonly<Record<string, unknown>>): string | undefined {
  // Every publish is checked: first an upper bound from string lengths (3 bytes per code unit),
  // which settles the usual few-hundred-byte table without measuring a single string.
  let bound = 4;
  let namesShort = true;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (name.length > SURELY_SHORT) namesShort = false;
    bound += 6 + 3 * (name.length + (typeof value === 'string' ? value.length : String(value).length));
  }
  if (namesShort && bound <= AMQPLIB_HEADER_TABLE_BYTES) return undefined;
  const long = Object.keys(headers).find((name) => Buffer.byteLength(name) > SHORTSTR_MAX);
  if (long !== undefined) return `header name "${long.slice(0, 40)}…" is longer than ${SHORTSTR_MAX} bytes`;
  const size = headerTableBytes(headers);
  if (size > AMQPLIB_HEADER_TABLE_BYTES) return `its AMQP header table takes ${size} bytes; amqplib encodes at most ${AMQPLIB_HEADER_TABLE_BYTES}`;
  return undefined;
}

/** AMQP properties are short strings (up to 255 bytes): longer values only travel as headers. */
const short = (value: string | undefined) => (value !== undefined && isShortString(value) ? value : undefined);

const NO_EXTRA_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * ce-time as whole seconds (the AMQP 0-9-1 timestamp property). Messages published together
 * mostly share their ce-time to the millisecond: the last one parsed is remembered.
 */
let lastTime = '';
let lastSeconds = Number.NaN;
function epochSeconds(time: string): number {
  if (time !== lastTime) {
    lastSeconds = Math.floor(Date.parse(time) / 1000);
    lastTime = time;
  }
  return lastSeconds;
}

export function toAmqp(message: WireMessage, extraHeaders: Readonly<Record<string, string>> = NO_EXTRA_HEADERS, persistent = true): { content: Buffer; options: Options.Publish } {
  const contentType = short(message.headers[Attr.contentType]);
  // One pass: the binding's names, and content-type left out when it rides as the property.
  const headers: Record<string, string> = {};
  // A direct reply-to address rides in reply-to alone, the AMQP field every RPC client reads, and
  // where fromAmqp takes it from: as a header too it was ~100 bytes more per request to encode,
  // route through the queue and decode (npm run bench: request/reply 32 in flight, some 8 % more requests a second).
  const replyTo = short(message.headers[ReplyAttr.replyTo]);
  const replyInProperty = replyTo !== undefined && isDirectReplyAddress(replyTo);
  for (const name in message.headers) {
    if (contentType !== undefined && name === Attr.contentType) continue;
    if (replyInProperty && name === ReplyAttr.replyTo) continue;
    headers[amqpName(name)] = message.headers[name]!;
  }
  if (message.key !== undefined) headers[PARTITION_KEY_HEADER] = message.key;
  for (const name in extraHeaders) headers[name] = extraHeaders[name]!;
  const { [Attr.id]: id, [Attr.correlationId]: correlationId, [Attr.time]: time } = message.headers;
  const options: Options.Publish = { persistent, headers, contentType, messageId: short(id), correlationId: short(correlationId), replyTo };
  const seconds = time === undefined ? Number.NaN : epochSeconds(time);
  if (!Number.isNaN(seconds)) options.timestamp = seconds;
  // A view, not a copy: core hands transports immutable bytes (see WireMessage).
  const { body } = message;
  return { content: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength), options };
}

/** amqplib's form of a native AMQP timestamp field value (seconds since the epoch). */
interface AmqpTimestamp {
  readonly '!': 'timestamp';
  readonly value: number;
}
const isAmqpTimestamp = (value: unknown): value is AmqpTimestamp =>
  typeof value === 'object' && value !== null && (value as { '!'?: unknown })['!'] === 'timestamp' && typeof (value as { value?: unknown }).value === 'number';

/** Header values as strings (native timestamps as RFC 3339); tables/arrays (x-death and the like) are dropped. */
function headerString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isAmqpTimestamp(value)) {
    const time = new Date(value.value * 1000);
    return Number.isNaN(time.getTime()) ? String(value.value) : time.toISOString();
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/** The message, and the deliveries before this one as far as the broker and our delay path can tell. */
export function fromAmqp(msg: ConsumeMessage | GetMessage, quorum: boolean): { wire: WireMessage; previousDeliveries: number } {
  const raw = (msg.properties.headers ?? {}) as Record<string, unknown>;
  // One pass, both binding prefixes (as core's fromBindingHeaders maps each): names as strings.
  // The partition key is kept aside, not deleted afterwards: a delete puts the object V8 made for
  // these headers into dictionary mode, and core reads them several times per message.
  const headers: Record<string, string> = {};
  let key: string | undefined;
  for (const name in raw) {
    if (isInternal(name)) continue;
    const text = headerString(raw[name]);
    if (text === undefined) continue;
    const translated = switchyardName(name);
    if (translated === PARTITION_KEY) key = text;
    else headers[translated] = text;
  }
  const props = msg.properties;
  if (typeof props.contentType === 'string' && props.contentType !== '') headers[Attr.contentType] = props.contentType;
  if (headers[Attr.id] === undefined && typeof props.messageId === 'string' && props.messageId !== '') headers[Attr.id] = props.messageId;
  if (headers[Attr.correlationId] === undefined && typeof props.correlationId === 'string' && props.correlationId !== '') headers[Attr.correlationId] = props.correlationId;
  if (headers[Attr.time] === undefined && typeof props.timestamp === 'number' && props.timestamp > 0) headers[Attr.time] = new Date(props.timestamp * 1000).toISOString();
  // A direct reply-to address the broker wrote (a plain client asking with reply-to =
  // amq.rabbitmq.reply-to) is the only routable one, whatever a header says.
  const replyTo: unknown = props.replyTo;
  if (isDirectReplyAddress(replyTo)) headers[ReplyAttr.replyTo] = replyTo;
  const wire: WireMessage = key === undefined || key === '' ? { body: msg.content, headers } : { body: msg.content, headers, key };

  // x-death lists the queues a message was dead-lettered from, latest first. Only a copy whose
  // latest hop was one of our delay buckets carries a count we set: any other producer's
  // x-switchyard-delivery-count is ignored (it could skip a message's retries), and so is one on a
  // message RabbitMQ moved on since (the delivery-limit backstop, into a dead-letter topic).
  const deaths = raw['x-death'];
  const latest = (Array.isArray(deaths) ? deaths[0] : undefined) as { queue?: unknown; reason?: unknown } | undefined;
  const deathQueue = headerString(latest?.queue) ?? '';
  const carried = deathQueue.includes('/~delay/') ? Number(headerString(raw[DELIVERY_COUNT_HEADER]) ?? 0) : 0;
  const base = Number.isSafeInteger(carried) && carried > 0 ? carried : 0;
  if (headerString(latest?.reason) === 'delivery_limit') {
    headers[DeadLetterHeader.error] ??= `RabbitMQ dead-lettered it from queue "${deathQueue}": delivered more often than its x-delivery-limit (a crash loop core could not end).`;
    const [, topic, group, extra] = deathQueue.split('/');
    if (extra === undefined && group !== undefined) Object.assign(headers, { [DeadLetterHeader.originalTopic]: topic, [DeadLetterHeader.group]: group });
  }
  // Quorum queues count returns in x-delivery-count; classic ones only say "redelivered".
  const counted = quorum ? Number(headerString(raw[QUORUM_DELIVERY_COUNT]) ?? 0) : 0;
  const returned = Number.isSafeInteger(counted) && counted > 0 ? counted : msg.fields.redelivered ? 1 : 0;
  return { wire, previousDeliveries: base + returned };
}
