/** URL query options → validated settings, for transports (memory:// and every adapter). */
import { type ZodRawShape, z } from 'zod';
import { ConfigurationError } from './errors.js';

/**
 * Validate a URL's query options against a zod shape (use z.coerce for numbers/booleans).
 * Unknown options and bad values throw ConfigurationError naming the allowed options.
 */
export function parseUrlOptions<S extends ZodRawShape>(url: URL, shape: S, transport: string): z.infer<z.ZodObject<S>> {
  const raw: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (key in raw) throw new ConfigurationError(`Option "${key}" appears twice in the ${transport} URL; give it once.`);
    raw[key] = value;
  }
  const allowed = Object.keys(shape);
  const unknown = Object.keys(raw).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new ConfigurationError(
      `Unknown ${transport} URL option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}. Allowed: ${allowed.join(', ') || '(none)'}.`,
    );
  }
  const parsed = z.object(shape).safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigurationError(`Invalid ${transport} URL options: ${detail}.`);
  }
  return parsed.data;
}

/**
 * A percent-encoded part of a transport URL (user info, a vhost) decoded. decodeURIComponent's
 * URIError would escape untyped; this says what to fix, and never echoes the text (it may be a
 * password).
 */
export function decodeUrlPart(text: string, transport: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigurationError(`The ${transport} URL ${what} is not valid percent-encoding: write "%" as %25 and reserved characters as %XX.`);
  }
}

/** z.coerce.boolean() treats "false" as true; this doesn't. */
export const booleanOption = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
