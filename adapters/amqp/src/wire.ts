/**
 * WireMessage ↔ AMQP 0-9-1 message, following the CloudEvents AMQP protocol binding (binary mode):
 *   ce-<attr>           → application property (header) "cloudEvents:<attr>"  ("cloudEvents_<attr>" accepted on receive)
 *   content-type        → the content-type message property
 *   key                 → "cloudEvents:partitionkey" (CloudEvents Partitioning extension)
 *   ce-id, ce-correlationid, ce-time → also messageId, correlationId, timestamp properties (informational)
 *   traceparent, tracestate, user headers → application properties as they are
 * Messages are persistent (delivery-mode 2).
 */
import type { ConsumeMessage, GetMessage, Options } from 'amqplib';
import type { WireMessage } from '@switchyard/core';
import { Attr, fromBindingHeaders, ReplyAttr, toBindingHeaders } from '@switchyard/core/spi';

export const CE_AMQP_PREFIX = 'cloudEvents:';
export const CE_AMQP_PREFIX_ALT = 'cloudEvents_';
export const PARTITION_KEY = 'ce-partitionkey';

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
  let size = 4;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    size += 1 + Buffer.byteLength(name) + 1 + 4 + Buffer.byteLength(String(value));
  }
  return size;
}

/** A header table amqplib can encode: names of at most 255 bytes, at most 64 KiB in all. */
export function checkHeaderTable(headers: Readonly<Record<string, unknown>>): string | undefined {
  for (const name of Object.keys(headers)) {
    if (Buffer.byteLength(name) > SHORTSTR_MAX) return `header name "${name.slice(0, 40)}…" is longer than ${SHORTSTR_MAX} bytes`;
  }
  const size = headerTableBytes(headers);
  if (size > AMQPLIB_HEADER_TABLE_BYTES) return `its AMQP header table takes ${size} bytes; amqplib encodes at most ${AMQPLIB_HEADER_TABLE_BYTES}`;
  return undefined;
}

export interface AmqpOutgoing {
  readonly content: Buffer;
  readonly options: Options.Publish;
}

export function toAmqp(message: WireMessage, extraHeaders: Record<string, string> = {}, persistent = true): AmqpOutgoing {
  const headers: Record<string, string> = toBindingHeaders(message.headers, CE_AMQP_PREFIX);
  const contentType = headers[Attr.contentType];
  const options: Options.Publish = { persistent, headers };
  if (contentType !== undefined && Buffer.byteLength(contentType) <= SHORTSTR_MAX) {
    options.contentType = contentType;
    delete headers[Attr.contentType];
  }
  if (message.key !== undefined) headers[CE_AMQP_PREFIX + PARTITION_KEY.slice(3)] = message.key;
  Object.assign(headers, extraHeaders);
  const id = message.headers[Attr.id];
  if (id !== undefined && Buffer.byteLength(id) <= SHORTSTR_MAX) options.messageId = id;
  const correlationId = message.headers[Attr.correlationId];
  if (correlationId !== undefined && Buffer.byteLength(correlationId) <= SHORTSTR_MAX) options.correlationId = correlationId;
  const replyTo = message.headers[ReplyAttr.replyTo];
  if (replyTo !== undefined && Buffer.byteLength(replyTo) <= SHORTSTR_MAX) options.replyTo = replyTo;
  const timeHeader = message.headers[Attr.time];
  const time = timeHeader === undefined ? Number.NaN : Date.parse(timeHeader);
  if (!Number.isNaN(time)) options.timestamp = Math.floor(time / 1000);
  // A view, not a copy: core hands transports immutable bytes (see WireMessage).
  const content = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
  return { content, options };
}

/** Header values as strings; tables/arrays (x-death and the like) are dropped. */
function headerString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

export interface Incoming {
  readonly wire: WireMessage;
  /** Deliveries before this one, as far as the broker and our delay path can tell. */
  readonly previousDeliveries: number;
}

export function fromAmqp(msg: ConsumeMessage | GetMessage, quorum: boolean): Incoming {
  const raw = (msg.properties.headers ?? {}) as Record<string, unknown>;
  const strings: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (isInternal(name)) continue;
    const text = headerString(value);
    if (text !== undefined) strings[name] = text;
  }
  const headers = fromBindingHeaders(fromBindingHeaders(strings, CE_AMQP_PREFIX), CE_AMQP_PREFIX_ALT);
  const props = msg.properties;
  if (typeof props.contentType === 'string' && props.contentType !== '') headers[Attr.contentType] = props.contentType;
  if (headers[Attr.id] === undefined && typeof props.messageId === 'string' && props.messageId !== '') headers[Attr.id] = props.messageId;
  if (headers[Attr.correlationId] === undefined && typeof props.correlationId === 'string' && props.correlationId !== '') headers[Attr.correlationId] = props.correlationId;
  if (headers[Attr.time] === undefined && typeof props.timestamp === 'number' && props.timestamp > 0) headers[Attr.time] = new Date(props.timestamp * 1000).toISOString();
  const key = headers[PARTITION_KEY];
  delete headers[PARTITION_KEY];
  const wire: WireMessage = key === undefined || key === '' ? { body: msg.content, headers } : { body: msg.content, headers, key };

  // Only a copy that came back through one of our delay buckets carries a count we set; any
  // other producer's x-switchyard-delivery-count is ignored (it could skip a message's retries).
  const carried = cameThroughDelayBucket(raw) ? Number(headerString(raw[DELIVERY_COUNT_HEADER]) ?? 0) : 0;
  const base = Number.isSafeInteger(carried) && carried > 0 ? carried : 0;
  let returned: number;
  if (quorum) {
    const count = Number(headerString(raw[QUORUM_DELIVERY_COUNT]) ?? 0);
    returned = Number.isSafeInteger(count) && count > 0 ? count : msg.fields.redelivered ? 1 : 0;
  } else {
    returned = msg.fields.redelivered ? 1 : 0;
  }
  return { wire, previousDeliveries: base + returned };
}

/** RabbitMQ's x-death names the queue a message was dead-lettered from: a delay bucket is `<prefix>/~delay/<ms>`. */
function cameThroughDelayBucket(raw: Record<string, unknown>): boolean {
  const deaths = raw['x-death'];
  if (!Array.isArray(deaths)) return false;
  return deaths.some((death) => {
    const queue = (death as { queue?: unknown } | null)?.queue;
    const text = typeof queue === 'string' ? queue : Buffer.isBuffer(queue) ? queue.toString('utf8') : '';
    return text.includes('/~delay/');
  });
}
