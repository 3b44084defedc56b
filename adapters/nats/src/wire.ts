/**
 * WireMessage ⇄ NATS message, following the CloudEvents NATS protocol binding (binary mode):
 *   ce-<attr>        → header "ce-<attr>"  (names matched case-insensitively on receive)
 *   content-type     → header "ce-datacontenttype" (a plain "Content-Type" is read when it is missing)
 *   key              → header "ce-partitionkey" (CloudEvents Partitioning extension)
 *   traceparent, tracestate, user headers → headers as they are
 * Every header value is percent-encoded as the binding prescribes (space, '"', '%' and anything
 * outside printable ASCII), which also carries what nats.js cannot (it trims values and refuses
 * CR/LF); values are percent-decoded on receive (left as they are when that is not valid UTF-8).
 * "Nats-*" headers belong to the server (Nats-Msg-Id, Nats-Expected-*, ...): never taken from a
 * message, dropped on receive.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { ValidationError, type WireMessage } from '@switchyard/core';
import { Attr, CE_PREFIX } from '@switchyard/core/spi';

export const DATA_CONTENT_TYPE = 'ce-datacontenttype';
export const PARTITION_KEY = 'ce-partitionkey';
const isServerHeader = (name: string) => name.toLowerCase().startsWith('nats-');

/** Percent-encoding per the binding; '%' and non-printable ASCII always, so decoding is exact. */
export function encodeValue(value: string): string {
  // Most values need nothing: a test allocates nothing, a replace with a callback does.
  if (NOTHING_TO_ENCODE.test(value)) return value;
  return value.replace(/[^\x21\x23\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}
const NOTHING_TO_ENCODE = /^[\x21\x23\x24\x26-\x7e]*$/;

export function decodeValue(value: string, attribute: boolean): string {
  let text = value;
  // Older producers may double-quote attribute values (RFC 7230 quoted-string).
  if (attribute && text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1).replace(/\\(.)/g, '$1');
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // not ours: a plain client's value that merely contains "%"
  }
}

export function toNatsHeaders(message: WireMessage): MsgHdrs {
  const out = natsHeaders();
  const set = (name: string, value: string) => {
    if (isServerHeader(name)) throw new ValidationError(`Header "${name}": names starting with "nats-" are reserved by the NATS server. Nothing was sent; rename the header.`);
    try {
      // set() first looks the name up among all headers so far; a record's names are unique, so
      // only the two names a mapped attribute also becomes need it (the last one wins, as before).
      if (name === DATA_CONTENT_TYPE || name === PARTITION_KEY) out.set(name, encodeValue(value));
      else out.append(name, encodeValue(value));
    } catch (err) {
      throw new ValidationError(`Header "${name}" cannot travel over NATS: ${(err as Error).message}. Nothing was sent.`);
    }
  };
  for (const [name, value] of Object.entries(message.headers)) set(name === Attr.contentType ? DATA_CONTENT_TYPE : name, value);
  if (message.key !== undefined) set(PARTITION_KEY, message.key);
  return out;
}

export function fromNats(data: Uint8Array, hdrs: MsgHdrs | undefined): WireMessage {
  // One pass, no deletes: an object that loses properties turns into a hash table, which costs
  // every message held several hundred bytes more.
  const headers: Record<string, string> = {};
  let plainContentType: string | undefined;
  let dataContentType: string | undefined;
  let key: string | undefined;
  for (const name of hdrs?.keys() ?? []) {
    const lower = name.toLowerCase();
    if (isServerHeader(lower)) continue;
    const value = hdrs?.get(name) ?? '';
    // ce- names in any case become their canonical lower-case form (as core's fromBindingHeaders does).
    if (lower.startsWith(CE_PREFIX)) {
      const decoded = decodeValue(value, true);
      if (lower === DATA_CONTENT_TYPE) dataContentType = decoded;
      else if (lower === PARTITION_KEY) key = decoded;
      else headers[lower] = decoded;
    } else if (lower === 'content-type') {
      // Percent-decoded like every other value: a binding-following producer encodes its "/" too.
      plainContentType = decodeValue(value, false);
    } else {
      headers[name] = decodeValue(value, false);
    }
  }
  const contentType = dataContentType ?? plainContentType;
  if (contentType !== undefined) headers[Attr.contentType] = contentType;
  return key === undefined || key === '' ? { body: data, headers } : { body: data, headers, key };
}
