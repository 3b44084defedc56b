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
