import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit-codes.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

/** node:util parseArgs, strict, with its errors turned into UsageError (exit code 2). */
export function parse(argv: readonly string[], options: OptionSpec): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export function stringOption(values: Parsed['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function stringList(values: Parsed['values'], name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/** A positive integer option, or the default; anything else is a usage error naming the option. */
export function intOption(values: Parsed['values'], name: string, fallback: number, min = 1, max = 1_000_000): number {
  const value = stringOption(values, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}; got "${value}".`);
  return n;
}

export function numberOption(values: Parsed['values'], name: string, fallback: number, min: number, max: number): number {
  const value = stringOption(values, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}; got "${value}".`);
  return n;
}

/** Exactly these positionals, by name, for the usage error. */
export function positionals(parsed: Parsed, names: readonly string[], optional: readonly string[] = []): string[] {
  const { positionals: given } = parsed;
  if (given.length < names.length)
    throw new UsageError(
      `Missing ${names
        .slice(given.length)
        .map((n) => `<${n}>`)
        .join(' ')}.`,
    );
  if (given.length > names.length + optional.length) throw new UsageError(`Unexpected argument "${given[names.length + optional.length]}".`);
  return given;
}
