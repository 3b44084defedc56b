import { NonRetryableError, type Message } from '@switchyard/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { ConformanceCase } from '../case.js';
import { Collector, type Harness } from '../harness.js';
import { telemetrySdk, type TelemetryWatch } from '../telemetry.js';

const PRODUCER = 3;
const CONSUMER = 4;
const CLIENT = 2;

/** Watch the case's topic for its duration (the SDK only records watched destinations). */
async function watching(h: Harness, label: string, run: (topic: string, watch: TelemetryWatch) => Promise<void>): Promise<void> {
  const topic = h.topic(`otel-${label}`);
  const watch = telemetrySdk().watch(topic);
  try {
    await run(topic, watch);
  } finally {
    watch.stop();
  }
}

const spanId = (s: ReadableSpan) => s.spanContext().spanId;

export const telemetryCases: ConformanceCase[] = [
  {
    id: 'telemetry.trace-continuity',
    title: 'send → process spans form one trace across a ctx.publish hop: process is a child of and linked to its send, with the conventions’ attributes',
    async run(h, expect) {
      await watching(h, 'trace', async (topic, watch) => {
        const bus = await h.bus();
        const second = `${topic}.next`;
        const got = new Collector<Message>();
        await bus.subscribe(topic, async (_m, ctx) => {
          await ctx.publish(second, { hop: 2 });
        });
        await bus.subscribe(second, (m) => got.push(m));
        const { id } = await bus.publish(topic, { hop: 1 });
        await got.waitFor(1);
        const [send1] = await watch.waitForSpans(`send ${topic}`);
        const [process1] = await watch.waitForSpans(`process ${topic}`);
        const [send2] = await watch.waitForSpans(`send ${second}`);
        const [process2] = await watch.waitForSpans(`process ${second}`);
        expect(send1!.kind).toBe(PRODUCER);
        expect(process1!.kind).toBe(CONSUMER);
        expect(process1!.parentSpanContext?.spanId).toBe(spanId(send1!));
        expect(process1!.links.map((l) => l.context.spanId)).toContain(spanId(send1!));
        expect(send2!.parentSpanContext?.spanId).toBe(spanId(process1!));
        expect(process2!.parentSpanContext?.spanId).toBe(spanId(send2!));
        expect(new Set([send1, process1, send2, process2].map((s) => s!.spanContext().traceId)).size).toBe(1);
        const system = send1!.attributes['messaging.system'];
        expect(typeof system === 'string' && system.length > 0, 'messaging.system is set').toBe(true);
        expect(system, 'RabbitMQ is "rabbitmq" in the conventions, not the protocol').not.toBe('amqp');
        expect(send1!.attributes).toMatchObject({
          'messaging.operation.name': 'send',
          'messaging.operation.type': 'send',
          'messaging.destination.name': topic,
          'messaging.message.id': id,
        });
        expect(process1!.attributes).toMatchObject({
          'messaging.system': system,
          'messaging.operation.name': 'process',
          'messaging.operation.type': 'process',
          'messaging.message.id': id,
        });
        expect(typeof process1!.attributes['messaging.consumer.group.name']).toBe('string');
        const [ack] = await watch.waitForSpans(`ack ${topic}`);
        expect(ack!.kind).toBe(CLIENT);
        expect(ack!.attributes).toMatchObject({ 'messaging.operation.name': 'ack', 'messaging.operation.type': 'settle' });
        expect(ack!.spanContext().traceId).toBe(send1!.spanContext().traceId);
      });
    },
  },
  {
    id: 'telemetry.failure',
    title: 'a failing handler’s process span has error.type; the dead-letter send links the original and a dead_letter settle span follows',
    async run(h, expect) {
      await watching(h, 'fail', async (topic, watch) => {
        const bus = await h.bus();
        await bus.subscribe(
          topic,
          () => {
            throw new NonRetryableError('cannot handle this order');
          },
          { retry: false },
        );
        await bus.publish(topic, { n: 1 });
        const [send] = await watch.waitForSpans(`send ${topic}`);
        const [process] = await watch.waitForSpans(`process ${topic}`);
        expect(process!.status.code).toBe(2); // ERROR
        expect(process!.attributes['error.type']).toBe('ERR_NON_RETRYABLE');
        const [dlqSend] = await watch.waitForSpans(`send ${topic}.dlq`);
        expect(dlqSend!.links.map((l) => l.context.spanId)).toContain(spanId(send!));
        const [settle] = await watch.waitForSpans(`dead_letter ${topic}`);
        expect(settle!.attributes).toMatchObject({ 'messaging.operation.name': 'dead_letter', 'messaging.operation.type': 'settle' });
        const failed = await watch.metric('switchyard.messages.failed');
        expect(failed.unit).toBe('{message}');
        expect(failed.points.map((p) => p.attributes['error.type'])).toEqual(['ERR_NON_RETRYABLE']);
      });
    },
  },
  {
    id: 'telemetry.pull-receive',
    title: 'pull() is a receive span with messaging.batch.message_count, linked to each pulled message’s send; ack is a settle span',
    async run(h, expect) {
      await watching(h, 'pull', async (topic, watch) => {
        const bus = await h.bus();
        const group = h.group('otel-pull');
        await bus.pull(topic, { group, waitMs: 0 }); // the group exists before the publish
        await bus.publish(topic, { n: 1 });
        const pulled: Message[] = [];
        for (let i = 0; i < 20 && pulled.length === 0; i++) {
          for (const m of await bus.pull(topic, { group, max: 10, waitMs: 1000 })) {
            pulled.push(m);
            await m.ack();
          }
        }
        expect(pulled).toHaveLength(1);
        const [send] = await watch.waitForSpans(`send ${topic}`);
        const receives = await watch.waitForSpans(`receive ${topic}`);
        const receive = receives.find((s) => s.attributes['messaging.batch.message_count'] === 1);
        expect(receive, 'a receive span counting the pulled message').toBeDefined();
        expect(receive!.kind).toBe(CLIENT);
        expect(receive!.attributes).toMatchObject({ 'messaging.operation.name': 'receive', 'messaging.operation.type': 'receive', 'messaging.consumer.group.name': group });
        expect(receive!.links.map((l) => l.context.spanId)).toEqual([spanId(send!)]);
        const [ack] = await watch.waitForSpans(`ack ${topic}`);
        expect(ack!.links.map((l) => l.context.spanId)).toEqual([spanId(send!)]);
      });
    },
  },
  {
    id: 'telemetry.metrics',
    title: 'sent and consumed counters in {message}, send and process durations in seconds',
    async run(h, expect) {
      await watching(h, 'metrics', async (topic, watch) => {
        const bus = await h.bus();
        const got = new Collector<Message>();
        await bus.subscribe(topic, (m) => got.push(m));
        await bus.publish(topic, { n: 1 });
        await bus.publish(topic, { n: 2 });
        await got.waitFor(2);
        await watch.waitForSpans(`process ${topic}`, 2);
        const sent = await watch.metric('messaging.client.sent.messages');
        expect(sent.unit).toBe('{message}');
        expect(sent.points.map((p) => [p.attributes['messaging.operation.name'], p.value])).toEqual([['send', 2]]);
        const consumed = await watch.metric('messaging.client.consumed.messages');
        expect(consumed.unit).toBe('{message}');
        expect(consumed.points.map((p) => p.value)).toEqual([2]);
        expect((await watch.metric('messaging.process.duration')).unit).toBe('s');
        const operations = await watch.metric('messaging.client.operation.duration');
        expect(operations.unit).toBe('s');
        expect(operations.points.map((p) => p.attributes['messaging.operation.name'])).toContain('send');
      });
    },
  },
];
