/**
 * WireMessage ⇄ Pub/Sub message, following the CloudEvents Google Cloud Pub/Sub protocol binding
 * (binary mode): every `ce-*` attribute travels as a message attribute of the same name, the media
 * type as `content-type`, the body as the message data. User headers are attributes too; the
 * Switchyard key is the ordering key. Pub/Sub's limits are checked here, since emulators don't
 * enforce them: at most 100 attributes, names up to 256 bytes not starting with "goog", values up
 * to 1024 bytes, an ordering key up to 1024 bytes, 10 MB per message.
 */
import { PayloadTooLargeError, ValidationError, type WireMessage } from '@switchyard/core';
import { CE_PREFIX, DEAD_LETTER_HEADROOM_BYTES, fromBindingHeaders } from '@switchyard/core/spi';
import type { protos } from '@google-cloud/pubsub';

export const MAX_ATTRIBUTES = 100;
export const MAX_ATTRIBUTE_NAME_BYTES = 256;
export const MAX_ATTRIBUTE_VALUE_BYTES = 1024;
export const MAX_ORDERING_KEY_BYTES = 1024;
/** Pub/Sub takes 10 MB per publish request; this leaves room for the request's own framing. */
export const MAX_MESSAGE_BYTES = 9_990_000;
/** What core may publish: the dead-letter copy of an accepted message must still fit. */
export const MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES - DEAD_LETTER_HEADROOM_BYTES;
/**
 * Headers core may put on a message it checks: traceparent/tracestate and up to ten
 * x-switchyard-* headers of a dead-letter or delayed copy are added after its count check.
 */
export const MAX_HEADERS = MAX_ATTRIBUTES - 12;

export type PubsubMessage = protos.google.pubsub.v1.IPubsubMessage;

/**
 * Protobuf framing a message adds to a Publish request beyond wireSize (tags and lengths of the
 * message, its data and ordering key; per attribute, its map entry's): an upper bound, so batches
 * of many small messages stay under the request limit.
 */
const FRAMING_BYTES_PER_MESSAGE = 16;
const FRAMING_BYTES_PER_ATTRIBUTE = 9;

export interface Outbound {
  readonly message: PubsubMessage;
  /** What the message adds to a Publish request, framing included. */
  readonly bytes: number;
}

/** The Pub/Sub message for `wire`, or a ValidationError/PayloadTooLargeError saying which limit it breaks (nothing is sent). */
export function toPubSub(topic: string, wire: WireMessage): Outbound {
  const names = Object.keys(wire.headers);
  const refuse = (what: string) => new ValidationError(`The message for "${topic}" cannot be sent to Pub/Sub: ${what}. Nothing was sent.`);
  if (names.length > MAX_ATTRIBUTES) throw refuse(`it has ${names.length} headers and Pub/Sub carries at most ${MAX_ATTRIBUTES} attributes`);
  // wireSize, summed here: the byte lengths are needed for the checks anyway.
  let size = wire.body.byteLength;
  for (const name of names) {
    if (/^goog/i.test(name)) throw refuse(`header "${name}" starts with "goog", which Pub/Sub reserves`);
    const nameBytes = Buffer.byteLength(name);
    if (nameBytes > MAX_ATTRIBUTE_NAME_BYTES) throw refuse(`a header name is longer than ${MAX_ATTRIBUTE_NAME_BYTES} bytes`);
    const bytes = Buffer.byteLength(wire.headers[name]!);
    if (bytes > MAX_ATTRIBUTE_VALUE_BYTES) throw refuse(`header "${name}" is ${bytes} bytes; an attribute value may be at most ${MAX_ATTRIBUTE_VALUE_BYTES}`);
    size += nameBytes + bytes;
  }
  if (wire.key !== undefined) {
    const keyBytes = Buffer.byteLength(wire.key);
    if (keyBytes > MAX_ORDERING_KEY_BYTES) throw refuse(`its key is longer than ${MAX_ORDERING_KEY_BYTES} bytes`);
    size += keyBytes;
  }
  if (size > MAX_MESSAGE_BYTES) throw new PayloadTooLargeError(topic, size, MAX_MESSAGE_BYTES, 'pubsub');
  const body = wire.body;
  const message: PubsubMessage = { data: Buffer.from(body.buffer, body.byteOffset, body.byteLength), attributes: { ...wire.headers } };
  if (wire.key !== undefined && wire.key !== '') message.orderingKey = wire.key;
  return { message, bytes: size + FRAMING_BYTES_PER_MESSAGE + FRAMING_BYTES_PER_ATTRIBUTE * names.length };
}

export function fromPubSub(message: PubsubMessage): WireMessage {
  const raw: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.attributes ?? {})) {
    // The binding names it `content-type`; accept any case from other producers.
    raw[name.toLowerCase() === 'content-type' ? 'content-type' : name] = value;
  }
  const headers = fromBindingHeaders(raw, CE_PREFIX);
  // The binding's example carries the media type as ce-datacontenttype: take it when content-type is absent.
  const dataContentType = headers['ce-datacontenttype'];
  if (dataContentType !== undefined) {
    delete headers['ce-datacontenttype'];
    headers['content-type'] ??= dataContentType;
  }
  const data = message.data;
  const body = data === null || data === undefined ? new Uint8Array(0) : typeof data === 'string' ? new Uint8Array(Buffer.from(data, 'base64')) : data;
  const key = message.orderingKey ? message.orderingKey : undefined;
  return key === undefined ? { body, headers } : { body, headers, key };
}
