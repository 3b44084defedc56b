/**
 * OpenTelemetry through @opentelemetry/api only: a no-op until the app installs an SDK.
 * Span and attribute names follow the messaging semantic conventions.
 */
import { context, metrics, propagation, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';

const SCOPE = '@switchyard/core';
const tracer = () => trace.getTracer(SCOPE);
const meter = () => metrics.getMeter(SCOPE);

let instruments: ReturnType<typeof createInstruments> | undefined;
function createInstruments() {
  const m = meter();
  return {
    sent: m.createCounter('messaging.client.sent.messages', { description: 'Messages published' }),
    consumed: m.createCounter('messaging.client.consumed.messages', { description: 'Messages delivered to handlers' }),
    duration: m.createHistogram('messaging.process.duration', { unit: 's', description: 'Handler duration' }),
    failed: m.createCounter('switchyard.messages.failed', { description: 'Handler failures' }),
    deadLettered: m.createCounter('switchyard.messages.dead_lettered', { description: 'Messages sent to a dead-letter topic' }),
    deadLetterFailures: m.createCounter('switchyard.dead_letter.failures', { description: 'Dead-letter publishes the broker refused (retried with backoff)' }),
  };
}
function metric() {
  instruments ??= createInstruments();
  return instruments;
}

interface Attrs {
  system: string;
  topic: string;
  group?: string;
  id?: string;
  correlationId?: string;
}

function attributes(a: Attrs): Record<string, string> {
  const out: Record<string, string> = { 'messaging.system': a.system, 'messaging.destination.name': a.topic };
  if (a.group !== undefined) out['messaging.consumer.group.name'] = a.group;
  if (a.id !== undefined) out['messaging.message.id'] = a.id;
  if (a.correlationId !== undefined) out['messaging.message.conversation_id'] = a.correlationId;
  return out;
}

/** Run `fn` inside a PRODUCER span; `inject` writes traceparent/tracestate into the headers. */
export async function withPublishSpan<T>(a: Attrs, fn: (inject: (headers: Record<string, string>) => void) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(`publish ${a.topic}`, { kind: SpanKind.PRODUCER, attributes: { ...attributes(a), 'messaging.operation.type': 'send' } }, async (span) => {
    try {
      const result = await fn((headers) => propagation.inject(context.active(), headers));
      metric().sent.add(1, { 'messaging.system': a.system, 'messaging.destination.name': a.topic });
      return result;
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Run a handler inside a CONSUMER span that is a child of the producer's (from traceparent). */
export async function withProcessSpan<T>(a: Attrs, headers: Readonly<Record<string, string>>, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const parent = propagation.extract(context.active(), headers);
  const started = performance.now();
  return tracer().startActiveSpan(
    `process ${a.topic}`,
    { kind: SpanKind.CONSUMER, attributes: { ...attributes(a), 'messaging.operation.type': 'process' } },
    parent,
    async (span) => {
      const labels = { 'messaging.system': a.system, 'messaging.destination.name': a.topic, ...(a.group === undefined ? {} : { 'messaging.consumer.group.name': a.group }) };
      metric().consumed.add(1, labels);
      try {
        return await fn(context.active());
      } catch (err) {
        recordError(span, err);
        metric().failed.add(1, labels);
        throw err;
      } finally {
        metric().duration.record((performance.now() - started) / 1000, labels);
        span.end();
      }
    },
  );
}

export function countDeadLettered(a: Attrs): void {
  metric().deadLettered.add(1, { 'messaging.system': a.system, 'messaging.destination.name': a.topic });
}

/** Current trace context into headers (for ctx.publish inside a handler span). */
export function countDeadLetterFailure(a: Attrs): void {
  metric().deadLetterFailures.add(1, { 'messaging.system': a.system, 'messaging.destination.name': a.topic });
}

export function injectTrace(ctx: Context, headers: Record<string, string>): void {
  propagation.inject(ctx, headers);
}

export function runInContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

function recordError(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}
