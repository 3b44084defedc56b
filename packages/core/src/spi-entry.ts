/**
 * @switchyard/core/spi — what adapter packages (and the conformance suite) build on: the
 * transport contract, the CloudEvents codec, URL helpers and shared timing helpers. Apps use the
 * main entry point.
 */
export type { Transport, TransportFactory, TransportContext, TransportConsumer, Delivery, WireMessage, Inbox, ConsumeOptions, GroupPolicy, PublishRequest } from './spi.js';
export type { TransportTelemetry } from './spi.js';
export type { Capabilities, Logger } from './types.js';
export { createTransport, parseBusUrl, ADAPTER_PACKAGES, PLANNED_ADAPTERS, type ParsedBusUrl } from './registry.js';
export { redactUrl, scrubSecrets, urlSecrets } from './redact.js';
export { parseUrlOptions, booleanOption, decodeUrlPart } from './url-options.js';
export { errorMessage } from './errors.js';
export { captureTraceContext, runInTraceContext, type TraceContext } from './telemetry.js';
export { checkPublish, MAX_DELAY_MS, PUBLISH_OPTIONS } from './publish-checks.js';
export { backoffDelay } from './retry.js';
export { outlasts, sleep } from './sleep.js';
export { EMULATED_DELAY_HOLD_MS } from './group-copy.js';
export { DEAD_LETTER_HEADROOM_BYTES, PORTABLE_LIMITS } from './limits.js';
export { Attr, DeadLetterHeader, InternalHeader, ReplyAttr, CE_PREFIX, toBindingHeaders, fromBindingHeaders, encodeBody, decodeBody, wireSize } from './codec.js';
export { retrying, type RetryingOptions } from './kit/retrying.js';
export { settleOnce, type DeliveryParts } from './kit/settle-once.js';
export { KeyGate } from './kit/key-gate.js';
export { Batcher, type BatcherOptions } from './kit/batcher.js';
export { KeyedBatcher, type KeyedBatcherOptions } from './kit/keyed-batcher.js';
export { Deadlines, type Deadline } from './kit/deadlines.js';
export { ChangeSignal } from './kit/change-signal.js';
export { delayHoldMs } from './kit/delay-hold.js';
export { PromiseCache } from './kit/promise-cache.js';
export { remembered } from './kit/remembered.js';
export { groupPolicyConflict } from './group-policy.js';
export { probeHealth, type HealthReport } from './kit/probe-health.js';
