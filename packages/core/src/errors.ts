/**
 * Every error Switchyard throws is a SwitchyardError with a stable `code`, so apps can branch on
 * `err.code` without string-matching messages. Messages say what went wrong and what to do.
 */

/** Marks Switchyard errors from any copy of @switchyard/core (Symbol.for is shared across copies). */
const BRAND = Symbol.for('@switchyard/core/error');

export class SwitchyardError extends Error {
  /** The `code` every instance of this class carries (undefined on the base class). */
  static readonly code: string | undefined = undefined;
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /**
   * `err instanceof ValidationError` compares the stable code, not the prototype, so it holds for
   * errors from another installed copy of core (an adapter with its own nested copy). Classes an
   * app derives from these fall back to the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof (maybe a subclass): the point here.
    return matchesErrorClass(this, value);
  }
}

function matchesErrorClass(cls: { readonly code?: string | undefined }, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(cls, value)) return true;
  if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
  if (cls === SwitchyardError) return true;
  return Object.hasOwn(cls, 'code') && (value as { code?: unknown }).code === cls.code;
}
Object.defineProperty(SwitchyardError.prototype, BRAND, { value: true });

/** Whether `value` is a Switchyard error (from any copy of core), optionally with this code. */
export function isSwitchyardError(value: unknown, code?: string): value is SwitchyardError {
  return value instanceof SwitchyardError && (code === undefined || value.code === code);
}

/** A body failed its schema, a topic/header name is not portable, or a setting is out of range. */
export class ValidationError extends SwitchyardError {
  static override readonly code = 'ERR_VALIDATION';
  readonly issues: readonly string[];
  constructor(message: string, issues: readonly string[] = [], options?: { cause?: unknown }) {
    super('ERR_VALIDATION', message, options);
    this.issues = issues;
  }
}

/** A bad URL, an unknown scheme or option, or a missing adapter package. */
export class ConfigurationError extends SwitchyardError {
  static override readonly code = 'ERR_CONFIGURATION';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIGURATION', message, options);
  }
}

export class RequestTimeoutError extends SwitchyardError {
  static override readonly code = 'ERR_REQUEST_TIMEOUT';
  readonly topic: string;
  readonly timeoutMs: number;
  constructor(topic: string, timeoutMs: number) {
    super(
      'ERR_REQUEST_TIMEOUT',
      `No reply on "${topic}" within ${timeoutMs} ms. Check that a reply handler is subscribed ` + `(bus.reply('${topic}', ...)) and healthy, or raise timeoutMs.`,
    );
    this.topic = topic;
    this.timeoutMs = timeoutMs;
  }
}

/** The reply handler threw; `remoteMessage` is what it threw. */
export class RemoteHandlerError extends SwitchyardError {
  static override readonly code = 'ERR_REMOTE_HANDLER';
  readonly topic: string;
  readonly remoteMessage: string;
  readonly remoteCode: string | undefined;
  constructor(topic: string, remoteMessage: string, remoteCode?: string) {
    super('ERR_REMOTE_HANDLER', `The reply handler for "${topic}" failed: ${remoteMessage}`);
    this.topic = topic;
    this.remoteMessage = remoteMessage;
    this.remoteCode = remoteCode;
  }
}

/** The broker told us nobody listens (only where the broker can tell, e.g. NATS). */
export class NoResponderError extends SwitchyardError {
  static override readonly code = 'ERR_NO_RESPONDER';
  constructor(topic: string) {
    super('ERR_NO_RESPONDER', `Nobody replies on "${topic}". Start a service that calls bus.reply('${topic}', ...).`);
  }
}

export class PayloadTooLargeError extends SwitchyardError {
  static override readonly code = 'ERR_PAYLOAD_TOO_LARGE';
  readonly sizeBytes: number;
  readonly limitBytes: number;
  constructor(topic: string, sizeBytes: number, limitBytes: number, transport: string) {
    super(
      'ERR_PAYLOAD_TOO_LARGE',
      `Message for "${topic}" is ${sizeBytes} bytes; the ${transport} transport accepts at most ${limitBytes}. ` +
        `Store large payloads elsewhere (e.g. object storage) and publish a reference.`,
    );
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

export class ClosedError extends SwitchyardError {
  static override readonly code = 'ERR_CLOSED';
  constructor(what = 'bus') {
    super('ERR_CLOSED', `The ${what} is closed. Create a new bus with createBus() to send or receive again.`);
  }
}

export class CapabilityError extends SwitchyardError {
  static override readonly code = 'ERR_CAPABILITY';
  readonly capability: string;
  constructor(capability: string, message: string) {
    super('ERR_CAPABILITY', message);
    this.capability = capability;
  }
}

export class ConnectionError extends SwitchyardError {
  static override readonly code = 'ERR_CONNECTION';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONNECTION', message, options);
  }
}

/**
 * Throw from a handler to dead-letter the message at once: retrying cannot help
 * (bad data, a business rule that will never pass).
 */
export class NonRetryableError extends SwitchyardError {
  static override readonly code = 'ERR_NON_RETRYABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NON_RETRYABLE', message, options);
  }
}

/** A handler ran past its handlerTimeoutMs; counts as a retryable failure. */
export class HandlerTimeoutError extends SwitchyardError {
  static override readonly code = 'ERR_HANDLER_TIMEOUT';
  readonly timeoutMs: number;
  constructor(topic: string, timeoutMs: number) {
    super(
      'ERR_HANDLER_TIMEOUT',
      `The handler for "${topic}" did not finish within ${timeoutMs} ms (handlerTimeoutMs); its signal was aborted and the attempt counts as failed. ` +
        `Make the handler honour ctx.signal, or raise handlerTimeoutMs.`,
    );
    this.timeoutMs = timeoutMs;
  }
}

/** Raised on the consume side when bytes cannot be decoded; the message is dead-lettered at once. */
export class DecodeError extends SwitchyardError {
  static override readonly code = 'ERR_DECODE';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DECODE', message, options);
  }
}

/**
 * The memory idempotency store holds `maxEntries` unexpired claims and done marks and will not
 * forget a done mark early, so it refuses a new key; the runner retries that message later.
 */
export class IdempotencyStoreFullError extends SwitchyardError {
  static override readonly code = 'ERR_IDEMPOTENCY_STORE_FULL';
  readonly maxEntries: number;
  constructor(key: string, maxEntries: number) {
    super(
      'ERR_IDEMPOTENCY_STORE_FULL',
      `Cannot claim idempotency key "${key}": the memory store already holds ${maxEntries} unexpired entries. ` +
        `The message will be retried. Raise maxEntries, shorten idempotency.ttlMs, or use a shared store (Redis, PostgreSQL).`,
    );
    this.maxEntries = maxEntries;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
}
