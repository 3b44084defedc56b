import { createHash } from 'node:crypto';
import { ValidationError } from './errors.js';
import { assertHeaderValue, type HeaderLimits } from './limits.js';

/** Portable on every broker once an adapter maps it (see each adapter README for its rule). */
export const PORTABLE_NAME = /^[a-z0-9][a-z0-9._-]{0,199}$/i;

export function assertTopicName(topic: unknown, what = 'topic'): asserts topic is string {
  if (typeof topic !== 'string' || !PORTABLE_NAME.test(topic)) {
    throw new ValidationError(
      `Invalid ${what} name ${JSON.stringify(topic)}: use 1-200 characters of letters, digits, ".", "_" or "-", ` +
        `starting with a letter or digit (pattern ${PORTABLE_NAME.source}), so it maps to every broker.`,
    );
  }
}

const DLQ_SUFFIX = '.dlq';
const MAX_NAME = 200;
/** Characters of a long topic kept in its DLQ name: 179 + '.' + 16 hex + '.dlq' = 200. */
const DLQ_KEPT_PREFIX = MAX_NAME - DLQ_SUFFIX.length - 17;

/**
 * The default dead-letter topic of `topic`: `<topic>.dlq`, or for topics longer than 196
 * characters (where that would pass the 200-character limit) the first 179 characters, '.', the
 * first 16 hex digits of the SHA-256 of the whole topic, and '.dlq'. A fixed rule, so tools can
 * find a DLQ from the topic; two long topics share a DLQ only if those 64 bits of SHA-256 collide.
 */
export function deadLetterTopicOf(topic: string): string {
  assertTopicName(topic);
  if (topic.length + DLQ_SUFFIX.length <= MAX_NAME) return topic + DLQ_SUFFIX;
  const digest = createHash('sha256').update(topic).digest('hex').slice(0, 16);
  return `${topic.slice(0, DLQ_KEPT_PREFIX)}.${digest}${DLQ_SUFFIX}`;
}

/** Header names that travel on every broker: token characters only, no CloudEvents prefix. */
const HEADER_NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/i;
const RESERVED_PREFIXES = ['ce-', 'ce_', 'cloudevents', 'x-switchyard-', 'content-type', 'traceparent', 'tracestate'];

export function assertHeaders(headers: unknown, limits: HeaderLimits, transport: string): asserts headers is Record<string, string> {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || !isPlainObject(headers)) {
    throw new ValidationError(`headers must be an object of string values, e.g. { tenant: 'acme' }; got ${Array.isArray(headers) ? 'an array' : typeof headers}.`);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) {
      throw new ValidationError(`Invalid header name ${JSON.stringify(name)}: use letters, digits, ".", "_" or "-" (max 128), starting with a letter or digit.`);
    }
    const lower = name.toLowerCase();
    if (RESERVED_PREFIXES.some((p) => lower.startsWith(p))) {
      throw new ValidationError(
        `Header "${name}" is reserved for Switchyard's CloudEvents metadata; pick another name or use the matching publish option (id, correlationId, contentType).`,
      );
    }
    if (typeof value !== 'string') {
      throw new ValidationError(`Header "${name}" must be a string, got ${typeof value}. Convert it with String(value).`);
    }
    assertHeaderValue(name, value, limits, transport);
  }
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
