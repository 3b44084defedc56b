import { ValidationError } from './errors.js';

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

/** Header names that travel on every broker: token characters only, no CloudEvents prefix. */
const HEADER_NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/i;
const RESERVED_PREFIXES = ['ce-', 'ce_', 'cloudevents', 'x-switchyard-', 'content-type', 'traceparent', 'tracestate'];

export function assertHeaders(headers: Record<string, unknown>): asserts headers is Record<string, string> {
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
    if (/[\r\n\0]/.test(value)) {
      throw new ValidationError(`Header "${name}" contains a line break or NUL, which some brokers cannot carry; encode it (e.g. encodeURIComponent).`);
    }
  }
}
