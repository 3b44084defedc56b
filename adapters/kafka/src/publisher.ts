/**
 * Idempotent producer (acks=all, one request in flight) behind core's Batcher: publishes issued
 * together, and those that arrive while a produce request is in flight, go out together
 * in the next one, in arrival order, so per-key order is kept and throughput does not depend on one round trip per message.
 * Each publish resolves only when the broker acknowledged the request that carried it.
 */
import type { Logger } from '@switchyard/core';
import { Batcher, captureTraceContext, errorMessage, PromiseCache, runInTraceContext, type TraceContext } from '@switchyard/core/spi';
import { CompressionTypes, type Message, type Producer } from 'kafkajs';

interface Outgoing {
  readonly topic: string;
  readonly message: Message;
  /** The publishing caller's trace context (undefined when tracing is off). */
  readonly trace: TraceContext | undefined;
}

export class Publisher {
  private readonly batcher: Batcher<Outgoing>;
  private readonly producer = new PromiseCache<'producer', Producer>();
  private closed = false;

  constructor(
    private readonly connectProducer: () => Promise<Producer>,
    maxBatchBytes: number,
    private readonly requestTimeout: number,
    private readonly logger: Logger,
  ) {
    // The publishers a produce request confirmed go in the next one together, like an app's explicit
    // batch; 'microtasks' sends it before the consumers of this process handle what arrived with it.
    this.batcher = new Batcher({ maxBatchBytes, gather: 'microtasks', send: (records) => this.sendBatch(records) });
  }

  /** Connect the producer (a failed connect is not kept: the next publish tries again). */
  async connect(): Promise<void> {
    await this.producer.get('producer', this.connectProducer);
  }

  send(topic: string, message: Message, size: number): Promise<void> {
    return this.batcher.add({ topic, message, trace: captureTraceContext() }, size);
  }

  private async sendBatch(records: Outgoing[]): Promise<void> {
    try {
      if (this.closed) throw new Error('the transport is closed');
      const producer = await this.producer.get('producer', this.connectProducer);
      const byTopic = new Map<string, { messages: Message[]; traces: (TraceContext | undefined)[] }>();
      for (const { topic, message, trace } of records) {
        const list = byTopic.get(topic);
        if (list) {
          list.messages.push(message);
          list.traces.push(trace);
        } else byTopic.set(topic, { messages: [message], traces: [trace] });
      }
      const topicMessages = [...byTopic].map(([topic, { messages, traces }]) => ({ topic, messages: inCallersTraces(messages, traces) }));
      await producer.sendBatch({ acks: -1, timeout: this.requestTimeout, compression: CompressionTypes.None, topicMessages });
    } catch (err) {
      this.logger.debug('Kafka produce request failed', { messages: records.length, error: errorMessage(err) });
      // The idempotent producer's sequence state may no longer match the broker's (e.g. after a
      // broker restart): start over with a fresh producer id.
      void this.producer
        .delete('producer')
        ?.then((p) => p.disconnect())
        .catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.producer.clear().map((p) => p.then((producer) => producer.disconnect()).catch(() => undefined)));
  }
}

/**
 * One produce request carries many callers' messages, but the request is sent from one async
 * context (the first caller's). Producer instrumentation such as
 * @opentelemetry/instrumentation-kafkajs starts one span per message and injects it into the
 * message while iterating `messages.forEach`, reading the active context each time: iterated
 * this way, each message's span is started in its own publisher's context, so every publish
 * keeps its own trace. Iteration order and contents are unchanged; with tracing off (no
 * captured contexts) the array is left as it is.
 */
function inCallersTraces(messages: Message[], traces: readonly (TraceContext | undefined)[]): Message[] {
  if (traces.every((t) => t === undefined)) return messages;
  Object.defineProperty(messages, 'forEach', {
    enumerable: false,
    value(this: Message[], callback: (message: Message, index: number, array: Message[]) => void, thisArg?: unknown): void {
      for (let i = 0; i < this.length; i++) runInTraceContext(traces[i], () => callback.call(thisArg, this[i]!, i, this));
    },
  });
  return messages;
}
