/**
 * @switchyard/core — the public API (see ../shared/DESIGN.md). Adapter-facing helpers live on
 * the `@switchyard/core/spi` entry point so they can change without breaking apps.
 */
export { Bus, createBus, type BusOptions } from './bus.js';
export {
  defineContract,
  type Contract,
  type ClosedContract,
  type ContractOptions,
  type TopicSpec,
  type TopicName,
  type PublishBody,
  type ReceiveBody,
  type ResponseBody,
  type SchemaBody,
  type EmptyContract,
  type NamedBody,
} from './contract.js';
export type { StandardSchemaV1 } from './standard-schema.js';
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
  HandlerTimeoutError,
  DecodeError,
  IdempotencyStoreFullError,
  isSwitchyardError,
} from './errors.js';
export { memoryIdempotencyStore, type IdempotencyStore, type ClaimResult, type MemoryIdempotencyStoreOptions } from './idempotency.js';
export { consoleLogger, silentLogger, pinoLogger, type FieldsFirstLogger } from './logger.js';
export { memoryFaults } from './memory/transport.js';
export type { MemoryFaults } from './memory/faults.js';
export { registerTransport } from './registry.js';
export { PORTABLE_NAME, deadLetterTopicOf } from './names.js';
export { DEFAULT_RETRY } from './retry.js';
export { PORTABLE_LIMITS } from './limits.js';
export type * from './types.js';
// A custom transport can be passed to createBus({ transport }); its shape is the SPI's.
export type { Transport, TransportFactory, TransportContext, TransportConsumer, Delivery, WireMessage, Inbox, ConsumeOptions, GroupPolicy, PublishRequest } from './spi.js';
