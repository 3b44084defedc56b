import { afterAll, beforeAll, expect, it } from 'vitest';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Message } from '../src/index.js';
import { memoryBus, topic, waitFor } from './helpers.js';

const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
});
afterAll(() => {
  trace.disable();
  propagation.disable();
  context.disable();
});

it('makes the consumer span a child of the producer span, across ctx.publish hops', async () => {
  const bus = await memoryBus('tracing');
  const first = topic('trace1');
  const second = topic('trace2');
  const got: Message[] = [];
  await bus.subscribe(first, async (_m, ctx) => {
    await ctx.publish(second, { hop: 2 });
  });
  await bus.subscribe(second, (m) => void got.push(m));
  await bus.publish(first, { hop: 1 });
  await waitFor(got, 1);
  await bus.close();

  const spans = exporter.getFinishedSpans();
  const byName = (name: string) => spans.find((s) => s.name === name)!;
  const publish1 = byName(`publish ${first}`);
  const process1 = byName(`process ${first}`);
  const publish2 = byName(`publish ${second}`);
  const process2 = byName(`process ${second}`);
  const parentOf = (s: typeof publish1): string | undefined => s.parentSpanContext?.spanId;
  expect(parentOf(process1)).toBe(publish1.spanContext().spanId);
  expect(parentOf(publish2)).toBe(process1.spanContext().spanId);
  expect(parentOf(process2)).toBe(publish2.spanContext().spanId);
  expect(new Set([publish1, process1, publish2, process2].map((s) => s.spanContext().traceId)).size).toBe(1);
  expect(process1.attributes).toMatchObject({
    'messaging.system': 'memory',
    'messaging.destination.name': first,
    'messaging.consumer.group.name': 'tracing',
    'messaging.operation.type': 'process',
  });
  expect(publish1.kind).toBe(3); // PRODUCER
  expect(process1.kind).toBe(4); // CONSUMER
  // User-visible headers never include the trace context.
  expect(got[0]!.headers).toEqual({});
});
