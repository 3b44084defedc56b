/**
 * OpenTelemetry through @opentelemetry/api only: spans, links and metrics per the current
 * messaging semantic conventions (send / receive / process / settle). With no SDK registered
 * every function here calls straight through: no span, attribute object, context or header copy.
 *
 * Trace structure (documented in the README):
 *   send     PRODUCER `send <topic>`; its context is injected into the message (the creation context)
 *   process  CONSUMER `process <topic>`, a CHILD of the creation context (the conventions allow
 *            this for single-message push delivery) and LINKED to it; when the delivery arrives
 *            inside another valid span (e.g. a broker client's instrumentation) that span is linked too
 *   receive  CLIENT `receive <topic>` per pull() call, linked to each pulled message's creation context
 *   settle   CLIENT `ack|nack|abandon|dead_letter <topic>`, linked to the creation context
 *   dead-letter and reply sends: CLIENT `send <topic>` (their creation context stays the original's)
 *            and PRODUCER `send` (reply: a new message to a temporary inbox)
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { Attr, type OwnedWire } from './codec.js';
import type { Transport, WireMessage } from './spi.js';
import { A, activeInstruments, activeTracer, errorType, type Attributes, type Instruments } from './telemetry-runtime.js';

/** What every span and metric of one transport says about the broker. */
export interface TelemetryTarget {
  readonly system: string;
  /** server.address / server.port where the transport knows them. */
  readonly server: Attributes;
}

const targets = new WeakMap<Transport, TelemetryTarget>();

export function telemetryTarget(transport: Transport): TelemetryTarget {
  let target = targets.get(transport);
  if (target === undefined) {
    const declared = transport.telemetry;
    const server: Attributes = {};
    if (declared?.serverAddress !== undefined) server[A.serverAddress] = declared.serverAddress;
    if (declared?.serverPort !== undefined) server[A.serverPort] = declared.serverPort;
    target = { system: declared?.system ?? transport.name, server };
    targets.set(transport, target);
  }
  return target;
}

export type SettleOperation = 'ack' | 'nack' | 'abandon' | 'dead_letter';

/**
 * Publish one message under a PRODUCER span whose context goes into the message's headers. The
 * wire was built for this send alone (OwnedWire), so trace context goes straight into its
 * headers: no copy of headers or message per publish. `send(request)` publishes it: a shared
 * function and its argument, so that a publish makes no closure when telemetry is off.
 */
export function traceSend<R>(target: TelemetryTarget, topic: string, wire: OwnedWire, parent: Context | undefined, send: (request: R) => Promise<void>, request: R): Promise<void> {
  const tracer = activeTracer();
  const instruments = activeInstruments();
  if (tracer === undefined && instruments === undefined) return send(request);
  const base = baseAttributes(target, 'send', 'send', topic);
  const op: Operation = {
    name: `send ${topic}`,
    kind: SpanKind.PRODUCER,
    metric: base,
    span: messageAttributes({ ...base }, wire.headers[Attr.id], wire.headers[Attr.correlationId], wire.body.byteLength),
    parent: sendParent(parent),
  };
  return runOperation(tracer, instruments, op, 'send', (ctx) => {
    if (tracer !== undefined) propagation.inject(ctx, wire.headers);
    return send(request);
  });
}

/**
 * A send that carries on an existing message (dead-letter copy): CLIENT span linked to the
 * message's creation context, which the copy keeps unchanged.
 */
export function traceForward(target: TelemetryTarget, topic: string, wire: WireMessage, send: () => Promise<void>): Promise<void> {
  const tracer = activeTracer();
  const instruments = activeInstruments();
  if (tracer === undefined && instruments === undefined) return send();
  const base = baseAttributes(target, 'send', 'send', topic);
  const creation = tracer === undefined ? undefined : creationContext(wire.headers);
  const op: Operation = {
    name: `send ${topic}`,
    kind: SpanKind.CLIENT,
    metric: base,
    span: messageAttributes({ ...base }, wire.headers[Attr.id], wire.headers[Attr.correlationId], wire.body.byteLength),
    parent: context.active(),
    links: creation === undefined ? undefined : [{ context: creation }],
  };
  return runOperation(tracer, instruments, op, 'send', () => send());
}

/** A reply to a request's private inbox: a new message, so a PRODUCER span injected into it. */
export function traceReply(target: TelemetryTarget, address: string, wire: OwnedWire, send: () => Promise<void>): Promise<void> {
  const tracer = activeTracer();
  const instruments = activeInstruments();
  if (tracer === undefined && instruments === undefined) return send();
  // The inbox is temporary and unique per requesting bus: kept out of span names and metrics.
  const base = baseAttributes(target, 'send', 'send', undefined);
  const spanAttributes = messageAttributes(
    { ...base, [A.destination]: address, [A.temporary]: true },
    wire.headers[Attr.id],
    wire.headers[Attr.correlationId],
    wire.body.byteLength,
  );
  const op: Operation = { name: 'send', kind: SpanKind.PRODUCER, metric: base, span: spanAttributes, parent: context.active() };
  return runOperation(tracer, instruments, op, 'send', (ctx) => {
    if (tracer !== undefined) propagation.inject(ctx, wire.headers);
    return send();
  });
}

/** Identity of a message being processed, read lazily (nothing is built when telemetry is off). */
export interface ProcessedMessage {
  readonly id: string;
  readonly correlationId?: string | undefined;
}

/** Whether an SDK registered a tracer or a meter: what every trace* function checks first. */
export function telemetryActive(): boolean {
  return activeTracer() !== undefined || activeInstruments() !== undefined;
}

/**
 * Run a handler inside a CONSUMER span: child of the message's creation context, linked to it.
 * `fn` gets the context to run the handler's own sends in (undefined when tracing is off).
 */
export function traceProcess<T>(
  target: TelemetryTarget,
  topic: string,
  group: string,
  msg: ProcessedMessage,
  wire: WireMessage,
  fn: (ctx: Context | undefined) => Promise<T>,
): Promise<T> {
  const tracer = activeTracer();
  const instruments = activeInstruments();
  if (tracer === undefined && instruments === undefined) return fn(undefined);
  const base = baseAttributes(target, 'process', 'process', topic, group);
  instruments?.consumed.add(1, base);
  const ambient = context.active();
  const creation = tracer === undefined ? undefined : creationContext(wire.headers);
  const links: Link[] = [];
  if (creation !== undefined) links.push({ context: creation });
  const ambientSpan = trace.getSpanContext(ambient);
  if (creation !== undefined && ambientSpan !== undefined && trace.isSpanContextValid(ambientSpan)) links.push({ context: ambientSpan });
  const op: Operation = {
    name: `process ${topic}`,
    kind: SpanKind.CONSUMER,
    metric: base,
    span: messageAttributes({ ...base }, msg.id, msg.correlationId, wire.body.byteLength),
    parent: creation === undefined ? ambient : trace.setSpanContext(ambient, creation),
    links,
  };
  return runOperation(tracer, instruments, op, 'process', (ctx) => fn(tracer === undefined ? undefined : ctx));
}

/**
 * One pull() call as a CLIENT `receive` span. The span is created once the messages are known
 * (with the call's start time) so it can link to each message's creation context at creation,
 * which is when samplers see links.
 */
export async function traceReceive<D extends { readonly message: WireMessage }>(target: TelemetryTarget, topic: string, group: string, pull: () => Promise<D[]>): Promise<D[]> {
  const tracer = activeTracer();
  const instruments = activeInstruments();
  if (tracer === undefined && instruments === undefined) return pull();
  const base = baseAttributes(target, 'receive', 'receive', topic, group);
  const parent = context.active();
  const startTime = Date.now();
  const started = performance.now();
  let received: D[] = [];
  let failure: unknown;
  try {
    received = await pull();
    return received;
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    const metric = failure === undefined ? base : { ...base, [A.errorType]: errorType(failure) };
    instruments?.operationDuration.record(seconds, metric);
    if (received.length > 0) instruments?.consumed.add(received.length, base);
    if (tracer !== undefined) {
      const links: Link[] = [];
      for (const { message } of received) {
        const creation = creationContext(message.headers);
        if (creation !== undefined) links.push({ context: creation });
      }
      const span = tracer.startSpan(`receive ${topic}`, { kind: SpanKind.CLIENT, startTime, links, attributes: { ...base, [A.batchCount]: received.length } }, parent);
      if (failure !== undefined) recordError(span, failure);
      span.end(startTime + seconds * 1000);
    }
  }
}

/**
 * Settle one delivery (ack, nack, abandon, or the ack after a dead-letter copy) as a CLIENT
 * span, a child of `parent` (the last process span, when there was one) and linked to the
 * message's creation context. `settle(delivery)` does it: a shared function and its argument,
 * so that settling, which runs for every message, makes no closure when telemetry is off.
 */
export function traceSettle<D>(
  target: TelemetryTarget,
  operation: SettleOperation,
  topic: string,
  group: string,
  wire: WireMessage,
  parent: Context | undefined,
  settle: (delivery: D) => Promise<void>,
  delivery: D,
): Promise<void> {
  const tracer = activeTracer();
  const instruments = activeInstruments();
  if (tracer === undefined && instruments === undefined) return settle(delivery);
  const base = baseAttributes(target, operation, 'settle', topic, group);
  const creation = tracer === undefined ? undefined : creationContext(wire.headers);
  const ambient = context.active();
  const op: Operation = {
    name: `${operation} ${topic}`,
    kind: SpanKind.CLIENT,
    metric: base,
    span: messageAttributes({ ...base }, wire.headers[Attr.id], wire.headers[Attr.correlationId], undefined),
    parent: parent ?? (creation === undefined ? ambient : trace.setSpanContext(ambient, creation)),
    links: creation === undefined ? undefined : [{ context: creation }],
  };
  return runOperation(tracer, instruments, op, 'operation', () => settle(delivery));
}

/** Run `fn` with `ctx` active, or plainly when there is none (telemetry off). */
export function runInContext<T>(ctx: Context | undefined, fn: () => T): T {
  return ctx === undefined ? fn() : context.with(ctx, fn);
}

export function countDeadLettered(target: TelemetryTarget, topic: string, group: string, cause: unknown): void {
  const instruments = activeInstruments();
  if (instruments === undefined) return;
  instruments.deadLettered.add(1, { ...baseAttributes(target, 'dead_letter', 'settle', topic, group), [A.errorType]: errorType(cause) });
}

export function countDeadLetterFailure(target: TelemetryTarget, topic: string, group: string, error: unknown): void {
  const instruments = activeInstruments();
  if (instruments === undefined) return;
  instruments.deadLetterFailures.add(1, { ...baseAttributes(target, 'dead_letter', 'settle', topic, group), [A.errorType]: errorType(error) });
}

interface Operation {
  readonly name: string;
  readonly kind: SpanKind;
  /** Low-cardinality attributes: metrics, and the start of the span's. */
  readonly metric: Attributes;
  readonly span: Attributes;
  readonly parent: Context;
  readonly links?: Link[] | undefined;
}

/** send: counted in messaging.client.sent.messages; process: timed in messaging.process.duration. */
type Measure = 'send' | 'process' | 'operation';

async function runOperation<T>(tracer: Tracer | undefined, instruments: Instruments | undefined, op: Operation, measure: Measure, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const span = tracer?.startSpan(op.name, { kind: op.kind, attributes: op.span, ...(op.links === undefined ? {} : { links: op.links }) }, op.parent);
  const ctx = span === undefined ? op.parent : trace.setSpan(op.parent, span);
  const started = performance.now();
  let failure: unknown;
  let failed = false;
  try {
    return await (span === undefined ? fn(ctx) : context.with(ctx, fn, undefined, ctx));
  } catch (err) {
    failed = true;
    failure = err;
    if (span !== undefined) recordError(span, err);
    throw err;
  } finally {
    span?.end();
    if (instruments !== undefined) {
      const seconds = (performance.now() - started) / 1000;
      const metric = failed ? { ...op.metric, [A.errorType]: errorType(failure) } : op.metric;
      (measure === 'process' ? instruments.processDuration : instruments.operationDuration).record(seconds, metric);
      if (measure === 'process' && failed) instruments.failed.add(1, metric);
      if (measure === 'send') instruments.sent.add(1, metric);
    }
  }
}

function baseAttributes(target: TelemetryTarget, operationName: string, operationType: string, topic: string | undefined, group?: string): Attributes {
  const out: Attributes = { [A.system]: target.system, [A.operationName]: operationName, [A.operationType]: operationType, ...target.server };
  if (topic !== undefined) out[A.destination] = topic;
  if (group !== undefined) out[A.group] = group;
  return out;
}

function messageAttributes(out: Attributes, id: string | undefined, correlationId: string | undefined, bodySize: number | undefined): Attributes {
  if (id !== undefined) out[A.messageId] = id;
  if (correlationId !== undefined) out[A.conversationId] = correlationId;
  if (bodySize !== undefined) out[A.bodySize] = bodySize;
  return out;
}

/**
 * A handler's sends: under the span active where they are called (the process span, or the
 * app's own span inside the handler); `inherited` (the process span's context) only where no
 * context manager carries it that far.
 */
function sendParent(inherited: Context | undefined): Context {
  const active = context.active();
  return inherited === undefined || trace.getSpan(active) !== undefined ? active : inherited;
}

/** The creation context a producer injected into the message, if any (valid). */
function creationContext(headers: Readonly<Record<string, string>>): SpanContext | undefined {
  const spanContext = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers));
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

function recordError(span: Span, err: unknown): void {
  span.setAttribute(A.errorType, errorType(err));
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** A caller's trace context, held by a transport that does the caller's work later (opaque). */
export interface TraceContext {
  readonly __traceContext: unique symbol;
}

/**
 * For transports that batch: the calling publish's trace context (undefined when tracing is off),
 * so the part of a shared batch that belongs to this caller can run in it (runInTraceContext).
 */
export function captureTraceContext(): TraceContext | undefined {
  return activeTracer() === undefined ? undefined : (context.active() as unknown as TraceContext);
}

export function runInTraceContext<T>(captured: TraceContext | undefined, fn: () => T): T {
  return captured === undefined ? fn() : context.with(captured as unknown as Context, fn);
}
