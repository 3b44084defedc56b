/**
 * CloudEvents attributes beyond what the envelope codec needs to route a message: the event time
 * as producers send it, structured mode (`application/cloudevents+json`) on receive, the
 * attributes and extensions a handler reads on `msg.cloudEvent`, and the ones a publisher sets.
 */
import { DecodeError, ValidationError } from './errors.js';
import { assertHeaderValue, type HeaderLimits } from './limits.js';
import type { CloudEventAttributes, PublishOptions } from './types.js';

/** Structured-mode JSON event format. Other event formats (avro, protobuf) are read as binary mode. */
export const STRUCTURED_JSON_TYPE = 'application/cloudevents+json';

/** Attributes the CloudEvents spec itself defines (never extensions). */
const SPEC_ATTRIBUTES = new Set(['id', 'source', 'specversion', 'type', 'datacontenttype', 'dataschema', 'subject', 'time', 'data', 'data_base64']);

/**
 * Extensions Switchyard sets itself and surfaces elsewhere (msg.correlationId, key, request/reply,
 * delay, trace context): not user extensions, so not settable through `extensions`.
 */
const SWITCHYARD_EXTENSIONS = new Set([
  'correlationid',
  'causationid',
  'notbefore',
  'replyto',
  'inreplyto',
  'replystatus',
  'replyerrorcode',
  'partitionkey',
  'traceparent',
  'tracestate',
]);

/** CloudEvents attribute names: lower-case letters and digits; the spec asks for at most 20 characters. */
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
/** CloudEvents Integer: a 32-bit signed integer. */
const INT32 = { min: -2_147_483_648, max: 2_147_483_647 };

/** RFC 3339 date-time, as the CloudEvents Timestamp type requires (a space for "T" is RFC 3339's own allowance). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** Epoch milliseconds as decimal digits (an AMQP timestamp or integer sent by a plain client). */
const EPOCH_MS = /^\d{1,15}$/;

/**
 * The event time a producer sent: an RFC 3339 string, or epoch milliseconds as digits (adapters
 * turn broker-native timestamps into one of these). Undefined when it is neither.
 */
export function parseEventTime(value: string): Date | undefined {
  // Messages published within one millisecond carry the same string: parse it once.
  if (value === lastParsed.text) return lastParsed.ms === undefined ? undefined : new Date(lastParsed.ms);
  const time = EPOCH_MS.test(value) ? new Date(Number(value)) : RFC3339.test(value) ? new Date(value) : undefined;
  const ms = time === undefined || Number.isNaN(time.getTime()) ? undefined : time.getTime();
  lastParsed = { text: value, ms };
  return ms === undefined ? undefined : time;
}
let lastParsed: { readonly text: string; readonly ms: number | undefined } = { text: '', ms: undefined };

/** Whether a media type is a CloudEvents structured-mode JSON event (matched case-insensitively). */
export function isStructuredJson(contentType: string | undefined): boolean {
  return contentType !== undefined && STRUCTURED_JSON.test(contentType); // a regex: no allocation per message
}
const STRUCTURED_JSON = /^\s*application\/cloudevents\+json\s*(;|$)/i;

/** A structured event taken apart: its attributes in canonical header form, and its data. */
export interface StructuredEvent {
  /** `ce-<attribute>` for every attribute and extension, `content-type` for datacontenttype, trace context as is. */
  readonly headers: Record<string, string>;
  /** The event's data; `bytes` when it came as data_base64, absent when the event has none. */
  readonly data: { readonly value: unknown } | { readonly bytes: Uint8Array } | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parse an `application/cloudevents+json` body. A body that is not a CloudEvent is a DecodeError (dead-lettered). */
export function parseStructured(body: Uint8Array): StructuredEvent {
  let event: unknown;
  try {
    event = JSON.parse(utf8.decode(body));
  } catch (err) {
    throw new DecodeError(`Body labelled ${STRUCTURED_JSON_TYPE} is not valid UTF-8 JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new DecodeError(`Body labelled ${STRUCTURED_JSON_TYPE} is not a JSON object; a structured CloudEvent is one object with its attributes and data.`);
  }
  const fields = event as Record<string, unknown>;
  for (const required of ['specversion', 'id', 'source', 'type']) {
    if (typeof fields[required] !== 'string' || fields[required] === '') {
      throw new DecodeError(`Structured CloudEvent has no "${required}" string; it needs specversion, id, source and type (CloudEvents JSON format).`);
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (name === 'data' || name === 'data_base64' || value === null || value === undefined) continue;
    const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    if (text === undefined) continue; // not a CloudEvents attribute type (objects, arrays): no header form
    if (name === 'datacontenttype') headers['content-type'] = text;
    else if (name === 'traceparent' || name === 'tracestate') headers[name] = text;
    else headers[`ce-${name}`] = text;
  }
  if (typeof fields['data_base64'] === 'string') return { headers, data: { bytes: new Uint8Array(Buffer.from(fields['data_base64'], 'base64')) } };
  if ('data' in fields && fields['data'] !== undefined) return { headers, data: { value: fields['data'] } };
  return { headers, data: undefined };
}

/** Whether a canonical `ce-<name>` header is a user extension (not a spec attribute, not one of Switchyard's own). */
export function isExtension(header: string): boolean {
  return !NOT_EXTENSION_HEADERS.has(header); // by full header name: no slice per header per message
}
const NOT_EXTENSION_HEADERS = new Set([...SPEC_ATTRIBUTES, ...SWITCHYARD_EXTENSIONS].map((name) => `ce-${name}`));

/** `msg.cloudEvent` from canonical headers and their extensions (see isExtension); undefined for a plain message (no ce-specversion). */
export function cloudEventOf(headers: Readonly<Record<string, string>>, time: string | undefined, extensions: Readonly<Record<string, string>>): CloudEventAttributes | undefined {
  const specversion = headers['ce-specversion'];
  if (specversion === undefined) return undefined;
  const attributes: { -readonly [K in keyof CloudEventAttributes]: CloudEventAttributes[K] } = {
    specversion,
    source: headers['ce-source'] ?? '',
    type: headers['ce-type'] ?? '',
    extensions,
  };
  if (time !== undefined) attributes.time = time;
  if (headers['ce-subject'] !== undefined) attributes.subject = headers['ce-subject'];
  if (headers['ce-dataschema'] !== undefined) attributes.dataschema = headers['ce-dataschema'];
  if (headers['content-type'] !== undefined) attributes.datacontenttype = headers['content-type'];
  return attributes;
}

/** Checks `subject`, `dataschema` and `extensions` publish options (names, types, header limits). */
export function assertCloudEventOptions(options: PublishOptions, limits: HeaderLimits, transport: string): void {
  if (options.subject !== undefined) assertAttributeText('subject', options.subject, limits, transport);
  if (options.dataschema !== undefined) {
    assertAttributeText('dataschema', options.dataschema, limits, transport);
    if (!URL.canParse(options.dataschema)) {
      throw new ValidationError(`dataschema must be an absolute URI (CloudEvents URI), e.g. "https://example.com/schemas/order.json"; got ${JSON.stringify(options.dataschema)}.`);
    }
  }
  if (options.extensions === undefined) return;
  const extensions: unknown = options.extensions;
  if (typeof extensions !== 'object' || extensions === null || Array.isArray(extensions)) {
    throw new ValidationError('extensions must be an object of CloudEvents extension attributes, e.g. { tenant: "acme", priority: 3 }.');
  }
  for (const [name, value] of Object.entries(extensions)) {
    if (!EXTENSION_NAME.test(name)) {
      throw new ValidationError(`Extension name ${JSON.stringify(name)} is not a CloudEvents attribute name: use 1-20 lower-case letters or digits (e.g. "tenantid").`);
    }
    if (SPEC_ATTRIBUTES.has(name)) {
      throw new ValidationError(
        `Extension "${name}" is a CloudEvents core attribute, not an extension; use the matching publish option (id, subject, dataschema, contentType) or pick another name.`,
      );
    }
    if (SWITCHYARD_EXTENSIONS.has(name)) {
      throw new ValidationError(
        `Extension "${name}" is reserved: Switchyard sets it itself (correlation, causation, request/reply, delay, key, trace context). Use the matching option or pick another name.`,
      );
    }
    assertAttributeText(`Extension "${name}"`, extensionText(name, value), limits, transport);
  }
}

/** The canonical string form of an extension value (CloudEvents String, Integer or Boolean). */
export function extensionText(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isInteger(value) && value >= INT32.min && value <= INT32.max) return String(value);
  throw new ValidationError(
    `Extension "${name}" must be a string, a boolean or a 32-bit integer (CloudEvents types); got ${typeof value === 'number' ? value : typeof value}. Convert it to a string.`,
  );
}

function assertAttributeText(what: string, value: unknown, limits: HeaderLimits, transport: string): void {
  if (typeof value !== 'string' || value === '')
    throw new ValidationError(`${what} must be a non-empty string; got ${typeof value === 'string' ? 'an empty string' : typeof value}.`);
  assertHeaderValue(what, value, limits, transport);
}
