import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { context, metrics, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NonRetryableError, silentLogger, type Message } from '../src/index.js';
import { createMemoryTransport } from '../src/memory/transport.js';
import type { WireMessage } from '../src/spi.js';
import { DURATION_BUCKETS_S } from '../src/telemetry-runtime.js';
import { memoryBus, topic, waitFor } from './helpers.js';

const exporter = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });

const named = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const found = spans.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no span "${name}" among: ${spans.map((s) => s.name).join(', ')}`);
  return found;
};

async function collect(): Promise<MetricData[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}
const metric = (all: MetricData[], name: string): MetricData => {
  const found = all.find((m) => m.descriptor.name === name);
  if (found === undefined) throw new Error(`no metric ${name} among ${all.map((m) => m.descriptor.name).join(', ')}`);
  return found;
};
const pointsFor = (m: MetricData, t: string) => m.dataPoints.filter((p) => p.attributes['messaging.destination.name'] === t);

describe('with a tracer and a meter provider registered', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  });
  afterAll(() => {
    trace.disable();
    propagation.disable();
    context.disable();
    metrics.disable();
  });

  it('makes the process span a child of the send span and links it, across ctx.publish hops', async () => {
    const bus = await memoryBus('tracing');
    const first = topic('trace1');
    const second = topic('trace2');
    const got: Message[] = [];
    await bus.subscribe(first, async (_m, ctx) => {
      await ctx.publish(second, { hop: 2 });
    });
    await bus.subscribe(second, (m) => void got.push(m));
    const { id } = await bus.publish(first, { hop: 1 }, { correlationId: 'conv-1' });
    await waitFor(got, 1);
    await bus.close();

    const spans = exporter.getFinishedSpans();
    const send1 = named(spans, `send ${first}`);
    const process1 = named(spans, `process ${first}`);
    const send2 = named(spans, `send ${second}`);
    const process2 = named(spans, `process ${second}`);
    const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
    expect(parentOf(process1)).toBe(send1.spanContext().spanId);
    expect(parentOf(send2)).toBe(process1.spanContext().spanId);
    expect(parentOf(process2)).toBe(send2.spanContext().spanId);
    expect(process1.links.map((l) => l.context.spanId)).toEqual([send1.spanContext().spanId]);
    expect(new Set([send1, process1, send2, process2].map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(send1.kind).toBe(SpanKind.PRODUCER);
    expect(process1.kind).toBe(SpanKind.CONSUMER);
    expect(send1.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
      'messaging.destination.name': first,
      'messaging.message.id': id,
      'messaging.message.conversation_id': 'conv-1',
    });
    expect(send1.attributes['messaging.message.body.size']).toBe(Buffer.byteLength(JSON.stringify({ hop: 1 })));
    expect(process1.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.operation.name': 'process',
      'messaging.operation.type': 'process',
      'messaging.destination.name': first,
      'messaging.consumer.group.name': 'tracing',
      'messaging.message.id': id,
    });
    // Acked after the handler: a settle span under the process span.
    const ack = named(spans, `ack ${first}`);
    expect(ack.kind).toBe(SpanKind.CLIENT);
    expect(parentOf(ack)).toBe(process1.spanContext().spanId);
    expect(ack.attributes).toMatchObject({ 'messaging.operation.name': 'ack', 'messaging.operation.type': 'settle' });
    // User-visible headers never include the trace context.
    expect(got[0]!.headers).toEqual({});
  });

  it('records error.type on a failed handler, dead-letters under a send span and a dead_letter settle span', async () => {
    const bus = await memoryBus('failing');
    const t = topic('fail');
    const failed: Message[] = [];
    await bus.subscribe(
      t,
      (m) => {
        failed.push(m);
        throw new NonRetryableError('bad order');
      },
      { retry: false },
    );
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m), { group: 'dlq-reader' });
    await bus.publish(t, { n: 1 });
    await waitFor(dead, 1);
    await bus.close();

    const spans = exporter.getFinishedSpans();
    const send = named(spans, `send ${t}`);
    const process = named(spans, `process ${t}`);
    expect(process.status.code).toBe(2); // ERROR
    expect(process.attributes['error.type']).toBe('ERR_NON_RETRYABLE');
    const dlqSend = named(spans, `send ${t}.dlq`);
    expect(dlqSend.kind).toBe(SpanKind.CLIENT);
    expect(dlqSend.links.map((l) => l.context.spanId)).toEqual([send.spanContext().spanId]);
    const settle = named(spans, `dead_letter ${t}`);
    expect(settle.attributes).toMatchObject({ 'messaging.operation.name': 'dead_letter', 'messaging.operation.type': 'settle' });
    // The dead letter keeps the original creation context: its consumer's span links the original send.
    const dlqProcess = named(spans, `process ${t}.dlq`);
    expect(dlqProcess.parentSpanContext?.spanId).toBe(send.spanContext().spanId);

    const all = await collect();
    const failures = pointsFor(metric(all, 'switchyard.messages.failed'), t);
    expect(failures.map((p) => p.attributes['error.type'])).toEqual(['ERR_NON_RETRYABLE']);
    expect(metric(all, 'switchyard.messages.failed').descriptor.unit).toBe('{message}');
    const deadLettered = pointsFor(metric(all, 'switchyard.messages.dead_lettered'), t);
    expect(deadLettered.map((p) => [p.value, p.attributes['error.type']])).toEqual([[1, 'ERR_NON_RETRYABLE']]);
  });

  it('traces pull() as a receive span linked to each message, and its ack as a settle span', async () => {
    const bus = await memoryBus('puller');
    const t = topic('pull');
    await bus.pull(t, { waitMs: 0 }); // declares the group
    await bus.publish(t, { n: 1 });
    await bus.publish(t, { n: 2 });
    const pulled = await bus.pull(t, { max: 10, waitMs: 1000 });
    expect(pulled).toHaveLength(2);
    await pulled[0]!.ack();
    await pulled[1]!.nack();
    await bus.close();

    const spans = exporter.getFinishedSpans();
    const receives = spans.filter((s) => s.name === `receive ${t}`);
    const receive = receives.find((s) => s.attributes['messaging.batch.message_count'] === 2)!;
    expect(receive.kind).toBe(SpanKind.CLIENT);
    expect(receive.attributes).toMatchObject({ 'messaging.operation.name': 'receive', 'messaging.operation.type': 'receive', 'messaging.consumer.group.name': 'puller' });
    const sends = spans.filter((s) => s.name === `send ${t}`).map((s) => s.spanContext().spanId);
    expect(receive.links.map((l) => l.context.spanId).sort()).toEqual([...sends].sort());
    expect(receives.find((s) => s !== receive)?.attributes['messaging.batch.message_count']).toBe(0);
    expect(named(spans, `ack ${t}`).links).toHaveLength(1);
    expect(named(spans, `nack ${t}`).attributes['messaging.operation.type']).toBe('settle');

    const all = await collect();
    const consumed = pointsFor(metric(all, 'messaging.client.consumed.messages'), t);
    expect(consumed.map((p) => [p.attributes['messaging.operation.name'], p.value])).toEqual([['receive', 2]]);
    const operations = pointsFor(metric(all, 'messaging.client.operation.duration'), t).map((p) => p.attributes['messaging.operation.name']);
    expect(new Set(operations)).toEqual(new Set(['send', 'receive', 'ack', 'nack']));
  });

  it('reports sent/consumed counters in {message} and durations with the conventions’ buckets', async () => {
    const bus = await memoryBus('metrics');
    const t = topic('metrics');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    await bus.publish(t, { n: 1 });
    await bus.publish(t, { n: 2 });
    await waitFor(got, 2);
    await bus.close();

    const all = await collect();
    const sent = metric(all, 'messaging.client.sent.messages');
    expect(sent.descriptor.unit).toBe('{message}');
    expect(pointsFor(sent, t).map((p) => [p.attributes['messaging.operation.name'], p.attributes['messaging.system'], p.value])).toEqual([['send', 'memory', 2]]);
    const consumed = metric(all, 'messaging.client.consumed.messages');
    expect(consumed.descriptor.unit).toBe('{message}');
    expect(pointsFor(consumed, t).map((p) => p.value)).toEqual([2]);
    const process = metric(all, 'messaging.process.duration') as HistogramMetricData;
    expect(process.descriptor.unit).toBe('s');
    const boundaries = (m: MetricData) => pointsFor(m, t).map((p) => (p.value as { buckets: { boundaries: number[] } }).buckets.boundaries);
    expect(pointsFor(process, t).map((p) => p.attributes['messaging.operation.name'])).toEqual(['process']);
    expect(boundaries(process)).toEqual([DURATION_BUCKETS_S]);
    const operation = metric(all, 'messaging.client.operation.duration') as HistogramMetricData;
    expect(boundaries(operation)).toEqual([DURATION_BUCKETS_S, DURATION_BUCKETS_S]); // send and ack
  });

  it('traces a reply as a send span to a temporary destination, under the request’s process span', async () => {
    const bus = await memoryBus('replier');
    const t = topic('ask');
    await bus.reply(t, (m) => ({ echo: m.body }));
    expect(await bus.request(t, { q: 1 })).toEqual({ echo: { q: 1 } });
    await bus.close();
    const spans = exporter.getFinishedSpans();
    const process = named(spans, `process ${t}`);
    const reply = spans.find((s) => s.name === 'send' && s.parentSpanContext?.spanId === process.spanContext().spanId);
    expect(reply?.kind).toBe(SpanKind.PRODUCER);
    expect(reply?.attributes).toMatchObject({ 'messaging.operation.name': 'send', 'messaging.destination.temporary': true });
    expect(named(spans, `send ${t}`).spanContext().traceId).toBe(reply?.spanContext().traceId);
  });

  it('records error.type on a send the broker refuses', async () => {
    const bus = await memoryBus('refused');
    const t = topic('refused');
    // The memory broker refuses nothing; a closed transport does.
    const transport = (bus as unknown as Record<string, { close(): Promise<void> }>)['transport']!;
    await transport.close();
    await expect(bus.publish(t, { n: 1 })).rejects.toThrow();
    await bus.close();
    const send = named(exporter.getFinishedSpans(), `send ${t}`);
    expect(send.status.code).toBe(2);
    expect(typeof send.attributes['error.type']).toBe('string');
    const sent = pointsFor(metric(await collect(), 'messaging.client.sent.messages'), t);
    expect(sent.map((p) => p.attributes['error.type'])).toEqual([send.attributes['error.type']]);
  });
});

describe('a meter provider registered after the first publish', () => {
  const lateExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const lateReader = new PeriodicExportingMetricReader({ exporter: lateExporter, exportIntervalMillis: 3_600_000 });
  beforeEach(() => metrics.disable());
  afterAll(() => metrics.disable());

  it('still gets metrics', async () => {
    const bus = await memoryBus('late');
    const t = topic('late');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    await bus.publish(t, { n: 1 }); // no meter provider yet
    await waitFor(got, 1);
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [lateReader] }));
    await bus.publish(t, { n: 2 });
    await waitFor(got, 2);
    await bus.close();
    const { resourceMetrics } = await lateReader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    expect(pointsFor(metric(all, 'messaging.client.sent.messages'), t).map((p) => p.value)).toEqual([1]);
    expect(pointsFor(metric(all, 'messaging.client.consumed.messages'), t).map((p) => p.value)).toEqual([1]);
  });
});

describe('with no SDK registered', () => {
  /** The raw wire messages of `t` on memory broker `broker`, read by a second transport. */
  async function rawReader(broker: string, t: string) {
    const transport = await createMemoryTransport(new URL(`memory://${broker}`), { service: 'raw', logger: silentLogger });
    await transport.connect();
    const seen: WireMessage[] = [];
    const policy = { maxAttempts: 1, retry: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1, factor: 1 }, deadLetterTopic: false as const, concurrency: 1, ephemeral: false };
    await transport.consume(t, 'raw', { prefetch: 10, policy }, (d) => {
      seen.push(d.message);
      void d.ack();
    });
    return { seen, transport };
  }

  it('sends messages without trace context and gives handlers no trace context', async () => {
    const broker = `nosdk-${process.pid}`;
    const t = topic('nosdk');
    const raw = await rawReader(broker, t);
    const bus = await memoryBus('nosdk', broker);
    await bus.publish(t, { n: 1 });
    await waitFor(raw.seen, 1);
    await bus.close();
    await raw.transport.close();
    expect(Object.keys(raw.seen[0]!.headers).filter((h) => h === 'traceparent' || h === 'tracestate')).toEqual([]);
  });

  it('passes trace context through when only a propagator is registered', async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const broker = `passthrough-${process.pid}`;
      const first = topic('pass1');
      const second = topic('pass2');
      const raw = await rawReader(broker, second);
      const bus = await memoryBus('pass', broker);
      await bus.subscribe(first, async (_m, ctx) => {
        await ctx.publish(second, { hop: 2 });
      });
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const sender = await createMemoryTransport(new URL(`memory://${broker}`), { service: 'raw', logger: silentLogger });
      await sender.publish({
        topic: first,
        message: { body: new TextEncoder().encode('{}'), headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
      });
      await waitFor(raw.seen, 1);
      await bus.close();
      await raw.transport.close();
      expect(raw.seen[0]!.headers['traceparent']).toContain(traceId);
    } finally {
      propagation.disable();
      context.disable();
    }
  });
});
