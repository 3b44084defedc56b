/**
 * Which tracer and instruments telemetry uses right now, resolved lazily and cheaply on every
 * call: an SDK registered at any time (before or after the first message) is picked up, and with
 * none registered the callers skip all span, attribute and propagation work.
 *
 * Works with every @opentelemetry/api from 1.3 (the first with the metrics API) to 1.x.
 */
import {
  createNoopMeter,
  metrics,
  propagation,
  ProxyTracerProvider,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

const SCOPE = '@switchyard/core';

/** The semantic conventions' advice for messaging durations, in seconds. */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** What the global proxy hands out until an SDK registers: this api copy's no-op provider. */
const NOOP_TRACER_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();
const NOOP_METER: Meter = createNoopMeter();

type MaybeProxy = TracerProvider & { getDelegate?: () => TracerProvider };

/**
 * Where every @opentelemetry/api 1.x copy keeps what was registered (tracer, meter, propagator,
 * context manager). It exists only once something registered, so its absence is a one-read
 * answer to "no SDK", the common case this module keeps free.
 */
const REGISTRY = Symbol.for('opentelemetry.js.api.1');
const nothingRegistered = () => (globalThis as Record<symbol, unknown>)[REGISTRY] === undefined;

let tracerProvider: TracerProvider | undefined;
let tracer: Tracer | undefined;
let tracerIsNoop = true;

/**
 * The tracer to use, or undefined when neither a tracer provider nor a propagator is registered
 * (nothing would be recorded or passed on). A propagator alone still gets spans from the no-op
 * tracer, so trace context passes through a service that records nothing itself.
 */
export function activeTracer(): Tracer | undefined {
  if (nothingRegistered()) return undefined;
  const global = trace.getTracerProvider() as MaybeProxy;
  const provider = typeof global.getDelegate === 'function' ? global.getDelegate() : global;
  if (provider !== tracerProvider) {
    tracerProvider = provider;
    tracer = provider.getTracer(SCOPE);
    tracerIsNoop = provider === NOOP_TRACER_PROVIDER;
  }
  if (tracerIsNoop && propagation.fields().length === 0) return undefined;
  return tracer;
}

export interface Instruments {
  readonly sent: Counter;
  readonly consumed: Counter;
  readonly operationDuration: Histogram;
  readonly processDuration: Histogram;
  readonly failed: Counter;
  readonly deadLettered: Counter;
  readonly deadLetterFailures: Counter;
}

let meterProvider: MeterProvider | undefined;
let instruments: Instruments | undefined;

/** The instruments of the meter provider registered now, or undefined when there is none. */
export function activeInstruments(): Instruments | undefined {
  if (nothingRegistered()) return undefined;
  const provider = metrics.getMeterProvider();
  if (provider !== meterProvider) {
    meterProvider = provider;
    const meter = provider.getMeter(SCOPE);
    instruments = meter === NOOP_METER ? undefined : createInstruments(meter);
  }
  return instruments;
}

function createInstruments(meter: Meter): Instruments {
  // `advice` (api 1.7+ types) is passed through by every api version; SDKs without advice support ignore it.
  const durationOptions = (description: string) => ({ unit: 's', description, advice: { explicitBucketBoundaries: DURATION_BUCKETS_S } });
  return {
    sent: meter.createCounter('messaging.client.sent.messages', { unit: '{message}', description: 'Messages the producer attempted to send to the broker' }),
    consumed: meter.createCounter('messaging.client.consumed.messages', {
      unit: '{message}',
      description: 'Messages delivered to the application (pulled, or passed to a handler)',
    }),
    operationDuration: meter.createHistogram('messaging.client.operation.duration', durationOptions('Duration of send, receive and settle operations')),
    processDuration: meter.createHistogram('messaging.process.duration', durationOptions('Duration of handler runs')),
    failed: meter.createCounter('switchyard.messages.failed', { unit: '{message}', description: 'Handler runs that failed (retried or dead-lettered)' }),
    deadLettered: meter.createCounter('switchyard.messages.dead_lettered', { unit: '{message}', description: 'Messages sent to a dead-letter topic' }),
    deadLetterFailures: meter.createCounter('switchyard.dead_letter.failures', {
      unit: '{message}',
      description: 'Dead-letter publishes the broker refused (retried with backoff)',
    }),
  };
}

/**
 * `error.type`: a stable error code where the error has one (Switchyard's `ERR_*`, Node's
 * `ECONNREFUSED`, a broker client's code), else the error's class name, else `_OTHER`.
 * All low cardinality, as the conventions ask.
 */
export function errorType(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const name = (err as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && name !== '' && name !== 'Object') return name;
  }
  return '_OTHER';
}

/** Attribute names of the OpenTelemetry messaging semantic conventions (1.3x). */
export const A = {
  system: 'messaging.system',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  temporary: 'messaging.destination.temporary',
  group: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  bodySize: 'messaging.message.body.size',
  batchCount: 'messaging.batch.message_count',
  errorType: 'error.type',
  serverAddress: 'server.address',
  serverPort: 'server.port',
} as const;

export type { Attributes };
