import { ValidationError } from './errors.js';

/** Unknown option names are an error (a typo like `concurency` must not silently do nothing). */
export function assertKnownOptions(options: object | undefined, allowed: readonly string[], where: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ValidationError(`${where} options must be an object.`);
  // Checked key by key first: every publish passes here, and the usual answer (all known) then allocates nothing.
  let allKnown = true;
  for (const key in options) if (Object.hasOwn(options, key) && !allowed.includes(key)) allKnown = false;
  if (allKnown) return;
  const unknown = Object.keys(options).filter((k) => !allowed.includes(k));
  throw new ValidationError(`Unknown ${where} option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}. Allowed: ${allowed.join(', ')}.`);
}

export function intInRange(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${name} must be an integer from ${min} to ${max}; got ${String(value)}.`);
  }
  return value;
}
