/**
 * With the standard kafkajs auto-instrumentation (@opentelemetry/instrumentation-kafkajs) in the
 * app, every publish stays in its own trace even when the adapter's micro-batcher sends many
 * publishes in one produce request: the instrumentation's per-message `send` span must be a
 * child of that message's own Switchyard send span, and the consumer's process span must land in
 * the same trace.
 *
 * The instrumentation is enabled before kafkajs is first required, as in an app, so its own
 * require hook patches kafkajs (own file: the OTel globals are per process).
 */
import { createRequire } from 'node:module';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, expect, it } from 'vitest';

const exporter = new InMemorySpanExporter();
/** Calls `onEnd` after each span ended (and was exported), so the test awaits spans instead of sleeping. */
let onEnd = () => {};
const notifier: SpanProcessor = { onStart() {}, onEnd: () => onEnd(), forceFlush: async () => {}, shutdown: async () => {} };
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), notifier] }));
const instrumentation = new KafkaJsInstrumentation();
const kafkajs = createRequire(import.meta.url)('kafkajs') as { Kafka: { prototype: { producer: { __wrapped?: boolean } } } };

const { createBus, silentLogger } = await import('@switchyard/core');
const { KAFKA_URL } = await import('./helpers.js');

afterAll(() => {
  instrumentation.disable();
  trace.disable();
  propagation.disable();
  context.disable();
});

it('keeps each of many concurrent publishes in its own trace, the instrumentation’s send span included', async () => {
  expect(kafkajs.Kafka.prototype.producer.__wrapped, 'the instrumentation patched kafkajs').toBe(true);
  const topic = `otel.kafkajs.${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
  const bus = await createBus({ url: KAFKA_URL, service: 'otel-kafkajs', logger: silentLogger });
  try {
    const COUNT = 12;
    const processed = () => exporter.getFinishedSpans().filter((s) => s.name === `process ${topic}` && s.attributes['messaging.message.id'] !== undefined).length;
    const done = new Promise<void>((resolve) => {
      onEnd = () => {
        if (processed() >= COUNT) resolve();
      };
    });
    await bus.subscribe(topic, () => undefined);
    // Concurrent: the first goes out alone, the rest wait for it and leave in one produce request.
    const ids = (await Promise.all(Array.from({ length: COUNT }, (_, n) => bus.publish(topic, { n })))).map((r) => r.id);
    await done;

    const spans = exporter.getFinishedSpans();
    const ours = (name: string, id: string): ReadableSpan => {
      const found = spans.find((s) => s.name === name && s.attributes['messaging.message.id'] === id);
      if (found === undefined) throw new Error(`no span "${name}" for message ${id}`);
      return found;
    };
    const instrumented = spans.filter((s) => s.name === `send ${topic}` && s.kind === SpanKind.PRODUCER && s.attributes['messaging.message.id'] === undefined);
    expect(instrumented).toHaveLength(COUNT);
    for (const id of ids) {
      const send = ours(`send ${topic}`, id);
      const traceId = send.spanContext().traceId;
      // The instrumentation's span for this message hangs under this message's send span ...
      const children = instrumented.filter((s) => s.parentSpanContext?.spanId === send.spanContext().spanId);
      expect(children, `kafkajs send spans under the send span of ${id}`).toHaveLength(1);
      // ... and the consumer continues this trace, not another publisher's.
      const processSpan = ours(`process ${topic}`, id);
      expect(processSpan.spanContext().traceId, `trace of message ${id}`).toBe(traceId);
    }
    expect(new Set(ids.map((id) => ours(`send ${topic}`, id).spanContext().traceId)).size).toBe(COUNT);
  } finally {
    await bus.close();
  }
});
