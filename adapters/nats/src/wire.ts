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
import { type Msg, type MsgHdrs, MsgHdrsImpl } from '@nats-io/transport-node';
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

/** What a send adds to or leaves out of a message's headers. */
export interface HeaderOptions {
  /** Headers for the server itself (e.g. Nats-Msg-Id), written as they are, after the message's. */
  readonly server?: Readonly<Record<string, string>>;
  /** A header of the message not to send (a direct request's ce-replyto: its reply subject says it). */
  readonly omit?: string;
}

/** Names nats.js accepts (printable ASCII but the colon), so a plain client can read every message. */
const VALID_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/**
 * A message's headers as NATS header bytes (`NATS/1.0`, then `name: value` lines), written in one
 * pass. nats.js's MsgHdrs validates every name and searches all names so far on each append, and
 * its encode() rebuilds the text: about a fifth of a direct request's client CPU (npm run bench,
 * --cpu-prof, rr-32).
 */
export function encodeNatsHeaders(message: WireMessage, options: HeaderOptions = {}): Uint8Array {
  let text = 'NATS/1.0\r\n';
  // The two names a mapped attribute becomes travel once; the later value wins, and the key over a header.
  let dataContentType: string | undefined;
  let partitionKey: string | undefined;
  for (const name in message.headers) {
    if (name === options.omit) continue;
    const value = message.headers[name]!;
    if (name === Attr.contentType || name === DATA_CONTENT_TYPE) dataContentType = value;
    else if (name === PARTITION_KEY) partitionKey = value;
    else text += headerLine(name, value);
  }
  if (dataContentType !== undefined) text += headerLine(DATA_CONTENT_TYPE, dataContentType);
  partitionKey = message.key ?? partitionKey;
  if (partitionKey !== undefined) text += headerLine(PARTITION_KEY, partitionKey);
  if (options.server !== undefined) for (const name in options.server) text += `${name}: ${options.server[name]!}\r\n`;
  // Every character is ASCII by now (names checked, values percent-encoded).
  return Buffer.from(`${text}\r\n`, 'latin1');
}

function headerLine(name: string, value: string): string {
  if (isServerHeader(name)) throw new ValidationError(`Header "${name}": names starting with "nats-" are reserved by the NATS server. Nothing was sent; rename the header.`);
  if (!VALID_NAME.test(name)) {
    throw new ValidationError(`Header "${name}" cannot travel over NATS: a header name is printable ASCII without ":" or spaces. Nothing was sent; rename the header.`);
  }
  return `${name}: ${encodeValue(value)}\r\n`;
}

/**
 * Encoded header bytes where nats.js takes a MsgHdrs: its publish only calls encode(). Only for
 * handing to nc.publish (lookups on it find nothing); the interop tests read what it sends with
 * a plain nats.js subscriber.
 */
class EncodedHeaders extends MsgHdrsImpl {
  constructor(private readonly bytes: Uint8Array) {
    super();
  }

  override encode(): Uint8Array {
    return this.bytes;
  }
}

/** Header bytes as nc.publish takes them. */
export function preEncoded(bytes: Uint8Array): MsgHdrs {
  return new EncodedHeaders(bytes);
}

/** A message's headers for nc.publish, encoded once. */
export function toNatsHeaders(message: WireMessage, options?: HeaderOptions): MsgHdrs {
  return preEncoded(encodeNatsHeaders(message, options));
}

/** A received message, whose headers its receiver may still complete. */
export interface ReceivedWire extends WireMessage {
  readonly headers: Record<string, string>;
}

/** A received message's headers as nats.js decoded them (a plain client's MsgHdrs, a status message's). */
export function fromNats(data: Uint8Array, hdrs: MsgHdrs | undefined): ReceivedWire {
  const reader = new HeaderReader();
  // Iterated, not looked up: MsgHdrs.get() searches every name each time.
  for (const [name, values] of hdrs ?? []) reader.add(name, values[0] ?? '');
  return reader.finish(data);
}

/**
 * A received message (its body `data`, by default msg.data): the header block is read here
 * straight from the bytes when nats.js still holds it undecoded (see receivedHeaderBlock), else
 * through msg.headers.
 */
export function fromNatsMsg(msg: Msg, data: Uint8Array = msg.data): ReceivedWire {
  const block = receivedHeaderBlock(msg);
  if (block === undefined) return fromNats(data, msg.headers);
  const reader = new HeaderReader();
  readHeaderBlock(block, reader);
  return reader.finish(data);
}

/**
 * nats.js keeps a received message's header block as bytes until msg.headers is read, and then
 * decodes it into a MsgHdrs, validating each name and searching all names so far for every line
 * (with fromNats, about a sixth of a direct request's client CPU: npm run bench, --cpu-prof,
 * rr-32). Its message (MsgImpl, nats.js 3.x) holds the bytes in `_rdata` and the block's length in
 * `_msg.hdr` (-1: no headers). Undefined when a message does not look like that (another nats.js
 * version): the caller then reads msg.headers. test/interop.test.ts checks both paths agree on
 * messages from the server.
 */
export function receivedHeaderBlock(msg: Msg): Uint8Array | undefined {
  const internals = msg as unknown as { _rdata?: unknown; _msg?: { hdr?: unknown } };
  const length = internals._msg?.hdr;
  const bytes = internals._rdata;
  if (typeof length !== 'number' || !(bytes instanceof Uint8Array) || length > bytes.byteLength) return undefined;
  return length < 0 ? NO_HEADERS : bytes.subarray(0, length);
}
const NO_HEADERS = new Uint8Array(0);
const headerText = new TextDecoder();

/**
 * `NATS/1.0[ status]` and then `name: value` lines, as nats.js reads them: values trimmed, the
 * first value of a name that repeats, names in the order they first appear.
 */
function readHeaderBlock(block: Uint8Array, reader: HeaderReader): void {
  const text = headerText.decode(block);
  const seen: string[] = [];
  let start = text.indexOf('\r\n');
  while (start !== -1) {
    start += 2;
    const end = text.indexOf('\r\n', start);
    const colon = text.indexOf(':', start);
    if (colon !== -1 && (end === -1 || colon < end)) {
      const name = text.slice(start, colon);
      if (!seen.includes(name)) {
        seen.push(name);
        reader.add(name, text.slice(colon + 1, end === -1 ? text.length : end).trim());
      }
    }
    start = end;
  }
}

/** Builds a WireMessage from a received message's headers, one header at a time. */
class HeaderReader {
  // Filled in one pass, never deleted from: an object that loses properties turns into a hash
  // table, which costs every message held several hundred bytes more.
  private readonly headers: Record<string, string> = {};
  private plainContentType: string | undefined;
  private dataContentType: string | undefined;
  private key: string | undefined;

  add(name: string, value: string): void {
    const lower = name.toLowerCase();
    if (lower.startsWith('nats-')) return; // the server's own (see isServerHeader)
    // ce- names in any case become their canonical lower-case form (as core's fromBindingHeaders does).
    if (lower.startsWith(CE_PREFIX)) {
      const decoded = decodeValue(value, true);
      if (lower === DATA_CONTENT_TYPE) this.dataContentType = decoded;
      else if (lower === PARTITION_KEY) this.key = decoded;
      else this.headers[lower] = decoded;
    } else if (lower === 'content-type') {
      // Percent-decoded like every other value: a binding-following producer encodes its "/" too.
      this.plainContentType = decodeValue(value, false);
    } else {
      this.headers[name] = decodeValue(value, false);
    }
  }

  finish(body: Uint8Array): ReceivedWire {
    const { headers, key } = this;
    const contentType = this.dataContentType ?? this.plainContentType;
    if (contentType !== undefined) headers[Attr.contentType] = contentType;
    return key === undefined || key === '' ? { body, headers } : { body, headers, key };
  }
}
