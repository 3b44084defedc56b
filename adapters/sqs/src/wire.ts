/**
 * CloudEvents binary mode on SQS: a message has a text body and at most 10 message attributes
 * (names [A-Za-z0-9_.-], no empty values). Packing rule (see README):
 *
 * - These headers travel as String attributes under their own names, when not empty:
 *   ce-id, ce-type, ce-source, ce-specversion, ce-time, content-type, ce-correlationid, traceparent
 *   (plain SQS consumers read and filter on them).
 * - Every other header (ce-causationid, tracestate, ce-replyto, user headers, x-switchyard-*),
 *   an empty value of the ones above, and the key (as x-switchyard-key) go into one String
 *   attribute `switchyard-headers`: a JSON object of name → value.
 * - The body travels as is when it is non-empty valid UTF-8 made only of characters SQS takes;
 *   otherwise as base64 with `switchyard-body: base64`, and an empty body as "-" with
 *   `switchyard-body: empty`.
 *
 * That is at most 8 + 2 = 10 attributes. Received attributes of plain producers become headers
 * (String and Number as they are, Binary as base64).
 */
import type { MessageAttributeValue, Message as SqsMessage } from '@aws-sdk/client-sqs';
import type { WireMessage } from '@switchyard/core';

export const HEADERS_ATTRIBUTE = 'switchyard-headers';
export const BODY_ATTRIBUTE = 'switchyard-body';
export const KEY_HEADER = 'x-switchyard-key';
export const INDIVIDUAL_ATTRIBUTES: readonly string[] = ['ce-id', 'ce-type', 'ce-source', 'ce-specversion', 'ce-time', 'content-type', 'ce-correlationid', 'traceparent'];

/** SQS's limit for one message: body plus every attribute's name, data type and value, in bytes. */
export const MAX_SQS_MESSAGE_BYTES = 1_048_576;

/** The characters SQS accepts in bodies and attribute values. */
const SQS_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const NOT_SQS_TEXT = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface SqsOutgoing {
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  /** Bytes as SQS counts them against MAX_SQS_MESSAGE_BYTES. */
  readonly size: number;
}

export function toSqs(message: WireMessage): SqsOutgoing {
  const attributes: Record<string, MessageAttributeValue> = {};
  const packed: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (INDIVIDUAL_ATTRIBUTES.includes(name) && value !== '' && SQS_TEXT.test(value)) attributes[name] = { DataType: 'String', StringValue: value };
    else packed[name] = value;
  }
  if (message.key !== undefined) packed[KEY_HEADER] = message.key;
  if (Object.keys(packed).length > 0) {
    // JSON.stringify escapes control characters and lone surrogates; U+FFFE/U+FFFF are escaped here.
    const json = JSON.stringify(packed).replace(NOT_SQS_TEXT, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    attributes[HEADERS_ATTRIBUTE] = { DataType: 'String', StringValue: json };
  }
  let body: string;
  if (message.body.byteLength === 0) {
    body = '-';
    attributes[BODY_ATTRIBUTE] = { DataType: 'String', StringValue: 'empty' };
  } else {
    const text = asSqsText(message.body);
    body = text ?? Buffer.from(message.body).toString('base64');
    if (text === undefined) attributes[BODY_ATTRIBUTE] = { DataType: 'String', StringValue: 'base64' };
  }
  let size = Buffer.byteLength(body);
  for (const [name, value] of Object.entries(attributes)) size += Buffer.byteLength(name) + value.DataType!.length + Buffer.byteLength(value.StringValue!);
  return { body, attributes, size };
}

function asSqsText(bytes: Uint8Array): string | undefined {
  try {
    const text = strictUtf8.decode(bytes);
    return SQS_TEXT.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** A received SQS message as core's wire form. From a FIFO queue, a plain producer's MessageGroupId is its key. */
export function fromSqs(message: SqsMessage, fifo = false): WireMessage {
  const headers: Record<string, string> = {};
  let encoding: string | undefined;
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    const text = value.StringValue ?? (value.BinaryValue === undefined ? undefined : Buffer.from(value.BinaryValue).toString('base64'));
    if (text === undefined) continue;
    if (name === BODY_ATTRIBUTE) encoding = text;
    else if (name === HEADERS_ATTRIBUTE) Object.assign(headers, unpack(text));
    else headers[name] = text;
  }
  const plain = headers['ce-specversion'] === undefined;
  const key = headers[KEY_HEADER] ?? (fifo && plain ? message.Attributes?.['MessageGroupId'] : undefined);
  delete headers[KEY_HEADER];
  const raw = message.Body ?? '';
  const body = encoding === 'empty' ? new Uint8Array(0) : new Uint8Array(Buffer.from(raw, encoding === 'base64' ? 'base64' : 'utf8'));
  return key === undefined ? { body, headers } : { body, headers, key };
}

/** The switchyard-headers JSON; anything else under that name is kept as a header as it came. */
function unpack(json: string): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.values(parsed).every((v) => typeof v === 'string')) {
      return parsed as Record<string, string>;
    }
  } catch {
    // Not ours: keep it below.
  }
  return { [HEADERS_ATTRIBUTE]: json };
}
