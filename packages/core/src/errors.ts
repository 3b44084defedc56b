/**
 * Every error Switchyard throws is a SwitchyardError with a stable `code`, so apps can branch on
 * `err.code` without string-matching messages. Messages say what went wrong and what to do.
 */
export class SwitchyardError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A body failed its schema, a topic/header name is not portable, or a setting is out of range. */
export class ValidationError extends SwitchyardError {
  readonly issues: readonly string[];
  constructor(message: string, issues: readonly string[] = [], options?: { cause?: unknown }) {
    super('ERR_VALIDATION', message, options);
    this.issues = issues;
  }
}

/** A bad URL, an unknown scheme or option, or a missing adapter package. */
export class ConfigurationError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIGURATION', message, options);
  }
}

export class RequestTimeoutError extends SwitchyardError {
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
  constructor(topic: string) {
    super('ERR_NO_RESPONDER', `Nobody replies on "${topic}". Start a service that calls bus.reply('${topic}', ...).`);
  }
}

export class PayloadTooLargeError extends SwitchyardError {
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
  constructor(what = 'bus') {
    super('ERR_CLOSED', `The ${what} is closed. Create a new bus with createBus() to send or receive again.`);
  }
}

export class CapabilityError extends SwitchyardError {
  readonly capability: string;
  constructor(capability: string, message: string) {
    super('ERR_CAPABILITY', message);
    this.capability = capability;
  }
}

export class ConnectionError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONNECTION', message, options);
  }
}

/**
 * Throw from a handler to dead-letter the message at once: retrying cannot help
 * (bad data, a business rule that will never pass).
 */
export class NonRetryableError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NON_RETRYABLE', message, options);
  }
}

/** A handler ran past its handlerTimeoutMs; counts as a retryable failure. */
export class HandlerTimeoutError extends SwitchyardError {
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
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DECODE', message, options);
  }
}

/**
 * The memory idempotency store holds `maxEntries` unexpired claims and done marks and will not
 * forget a done mark early, so it refuses a new key; the runner retries that message later.
 */
export class IdempotencyStoreFullError extends SwitchyardError {
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
