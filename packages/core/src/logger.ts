import { ValidationError } from './errors.js';
import type { Logger } from './types.js';

/** Default logger: warnings and errors to stderr, nothing else, so a library stays quiet. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn(message, fields) {
    console.warn(`[switchyard] ${message}`, fields ?? '');
  },
  error(message, fields) {
    console.error(`[switchyard] ${message}`, fields ?? '');
  },
};

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger that takes the fields first, then the message: pino (`logger.info({ topic }, 'text')`), and loggers shaped like it. */
export interface FieldsFirstLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * Adapt a pino-style `(fields, message)` logger to Switchyard's `(message, fields)` Logger:
 * `createBus({ ..., logger: pinoLogger(pino()) })`. Passing pino directly type-checks (both take
 * a string and an object) but puts the message where pino expects fields, losing every field.
 */
export function pinoLogger(logger: FieldsFirstLogger): Logger {
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * Check a user logger and guard it: a logger that throws must never crash the process or stop a
 * message from being settled (core logs from inside settlement paths).
 */
export function safeLogger(logger: unknown): Logger {
  const candidate = logger as Partial<Record<(typeof LEVELS)[number], unknown>> | null;
  if (typeof candidate !== 'object' || candidate === null || LEVELS.some((level) => typeof candidate[level] !== 'function')) {
    throw new ValidationError('logger must have debug, info, warn and error functions, e.g. console or silentLogger.');
  }
  const target = candidate as Logger;
  const guarded = {} as Record<(typeof LEVELS)[number], Logger['debug']>;
  for (const level of LEVELS) {
    guarded[level] = (message, fields) => {
      try {
        target[level](message, fields);
      } catch {
        // Nowhere left to report it: logging must not change what happens to messages.
      }
    };
  }
  return guarded;
}
