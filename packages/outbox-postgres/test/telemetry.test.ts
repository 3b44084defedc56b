/**
 * OpenTelemetry with a real SDK installed: the lag gauge and counters, and the trace carried from
 * the span that wrote the row to the consumer of the message the relay published.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createBus, silentLogger } from '@switchyard/core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { Collector, Fixture, publishedBy, Recorder, unique } from './helpers.js';

/** Collects on demand (reader.collect()), nothing periodic. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });
/** Finished spans, awaitable: the consumer's span ends after its handler returned. */
const spans = new Recorder<ReadableSpan>();
const recording: SpanProcessor = {
  onStart: () => undefined,
  onEnd: (span) => spans.push(span),
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};

beforeAll(() => {
  metrics.setGlobalMeterProvider(meterProvider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [recording] }));
});
afterAll(async () => {
  await meterProvider.shutdown();
  metrics.disable();
  trace.disable();
  propagation.disable();
  context.disable();
});

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(async () => {
  await fx.dispose();
});

async function collect(): Promise<MetricData[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.filter((s) => s.scope.name === '@switchyard/outbox-postgres').flatMap((s) => s.metrics);
}

function points(all: MetricData[], name: string, table: string): DataPoint<number>[] {
  const metric = all.find((m) => m.descriptor.name === name);
  return ((metric?.dataPoints ?? []) as DataPoint<number>[]).filter((p) => p.attributes['switchyard.outbox.table'] === table);
}

it('reports the lag (age of the oldest pending row), pending and parked rows, and counts published rows and failures', async () => {
  const outbox = await fx.outbox();
  const table = outbox.tableName;
  // A closed bus: every publish fails with ClosedError, an outage, so the rows wait and age.
  const closed = await createBus({ url: `memory://${unique('closed')}`, service: 'orders', logger: silentLogger });
  await closed.close();
  await fx.tx(async (client) => {
    for (let i = 0; i < 3; i++) await outbox.publish(client, 'order.placed', { i });
  });
  await fx.pool.query(`UPDATE ${table} SET created_at = now() - interval '30 seconds'`);
  const stuck = outbox.startRelay(closed, { pollIntervalMs: 100, logger: silentLogger });
  const failed = new Recorder<string>();
  stuck.events.on('failed', (e) => failed.push(e.id));
  await failed.until((f) => f.length >= 1, 10_000, 'a failed publish');

  let all = await collect();
  const [lag] = points(all, 'switchyard.outbox.lag', table);
  expect(lag!.value).toBeGreaterThanOrEqual(30);
  expect(lag!.value).toBeLessThan(60);
  expect(points(all, 'switchyard.outbox.pending', table)[0]!.value).toBe(3);
  expect(points(all, 'switchyard.outbox.parked', table)[0]!.value).toBe(0);
  const outages = points(all, 'switchyard.outbox.publish_failures', table).filter((p) => p.attributes['reason'] === 'outage');
  expect(outages.reduce((n, p) => n + p.value, 0)).toBeGreaterThanOrEqual(1);
  await stuck.stop();

  // A working bus: the rows go out; the lag drops to 0 and the published counter counts them.
  const bus = await createBus({ url: `memory://${unique('open')}`, service: 'orders', logger: silentLogger });
  fx.defer(() => bus.close());
  await bus.subscribe('order.placed', async () => undefined);
  const relay = outbox.startRelay(bus, { pollIntervalMs: 100, logger: silentLogger });
  fx.defer(() => relay.stop());
  await publishedBy(relay).until((ids) => ids.length === 3, 10_000, 'three rows sent');
  all = await collect();
  expect(points(all, 'switchyard.outbox.lag', table)[0]!.value).toBe(0);
  expect(points(all, 'switchyard.outbox.pending', table)[0]!.value).toBe(0);
  const published = points(all, 'switchyard.outbox.published', table);
  expect(published.reduce((n, p) => n + p.value, 0)).toBe(3);
  expect(published[0]!.attributes['messaging.destination.name']).toBe('order.placed');
});

it('continues the writer’s trace: the relay’s send span is a child of the span that wrote the row, and the consumer’s of that', async () => {
  const outbox = await fx.outbox();
  const bus = await createBus({ url: `memory://${unique('trace')}`, service: 'orders', logger: silentLogger });
  fx.defer(() => bus.close());
  const received = new Collector();
  await bus.subscribe('order.placed', received.handler);
  const tracer = trace.getTracer('test');
  const { id, writer } = await tracer.startActiveSpan('place order', async (span) => {
    const result = await fx.tx((client) => outbox.publish(client, 'order.placed', { orderId: 'o-1' }));
    span.end();
    return { id: result.id, writer: span.spanContext() };
  });
  const relay = outbox.startRelay(bus, { pollIntervalMs: 50, logger: silentLogger });
  fx.defer(() => relay.stop());
  await received.until((ms) => ms.some((m) => m.id === id), 10_000, 'the message');

  const ofMessage = (name: string) => (span: ReadableSpan) => span.name === name && span.attributes['messaging.message.id'] === id;
  await spans.until((all) => all.some(ofMessage('process order.placed')), 10_000, 'the consumer span');
  const publish = spans.items.find(ofMessage('send order.placed'));
  const processing = spans.items.find(ofMessage('process order.placed'));
  expect(publish?.parentSpanContext?.spanId).toBe(writer.spanId);
  expect(publish?.spanContext().traceId).toBe(writer.traceId);
  expect(processing?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
});
