export { Bus, createBus, type BusOptions } from './bus.js';
export { defineContract, type Contract, type TopicSpec, type PublishBody, type ReceiveBody, type ResponseBody, type EmptyContract } from './contract.js';
export {
  SwitchyardError,
  ValidationError,
  ConfigurationError,
  RequestTimeoutError,
  RemoteHandlerError,
  NoResponderError,
  PayloadTooLargeError,
  ClosedError,
  CapabilityError,
  ConnectionError,
  NonRetryableError,
  isSwitchyardError,
  HandlerTimeoutError,
  DecodeError,
  IdempotencyStoreFullError,
  errorMessage,
} from './errors.js';
export { memoryIdempotencyStore, type IdempotencyStore, type ClaimResult, type MemoryIdempotencyStoreOptions } from './idempotency.js';
export { consoleLogger, silentLogger } from './logger.js';
export { registerTransport, parseUrlOptions, parseBusUrl, redactUrl, booleanOption, ADAPTER_PACKAGES, type ParsedBusUrl } from './registry.js';
export { PORTABLE_NAME, deadLetterTopicOf } from './names.js';
export { DEFAULT_RETRY, backoffDelay } from './retry.js';
export { sleep } from './sleep.js';
export { EMULATED_DELAY_HOLD_MS } from './runner.js';
export { PORTABLE_LIMITS, DEAD_LETTER_HEADROOM_BYTES } from './limits.js';
export { createTransport } from './registry.js';
export {
  Attr,
  DeadLetterHeader,
  ReplyAttr,
  CE_PREFIX,
  toBindingHeaders,
  fromBindingHeaders,
  encodeBody,
  decodeBody,
  wireSize,
} from './codec.js';
export type * from './types.js';
export type { Transport, TransportFactory, TransportContext, TransportConsumer, Delivery, WireMessage, Inbox, ConsumeOptions, PublishRequest } from './spi.js';
