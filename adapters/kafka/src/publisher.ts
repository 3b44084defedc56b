/**
 * Idempotent producer (acks=all, one request in flight) with micro-batching: publishes that
 * arrive while a produce request is in flight go out together in the next one, in arrival
 * order, so per-key order is kept and throughput does not depend on one round trip per message.
 * Each publish resolves only when the broker acknowledged the request that carried it.
 */
import type { Logger } from '@switchyard/core';
import { errorMessage } from '@switchyard/core/spi';
import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';

interface Queued {
  readonly topic: string;
  readonly message: Message;
  readonly size: number;
  resolve(): void;
  reject(err: unknown): void;
}

export class Publisher {
  private readonly queue: Queued[] = [];
  private flushing = false;
  private producer: Promise<Producer> | undefined;
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly maxBatchBytes: number,
    private readonly requestTimeout: number,
    private readonly logger: Logger,
  ) {}

  connect(): Promise<void> {
    return this.getProducer().then(() => undefined);
  }

  send(topic: string, message: Message, size: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, message, size, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        void this.flush();
      }
    });
  }

  private getProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 6 },
      });
      try {
        await producer.connect();
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        throw err;
      }
      return producer;
    })();
    // A failed connect is not cached: the next publish tries again.
    this.producer.catch(() => {
      this.producer = undefined;
    });
    return this.producer;
  }

  /**
   * After a failed send the idempotent producer's sequence state may not match the broker's
   * (e.g. after a broker restart); start over with a fresh producer id.
   */
  private reset(): void {
    const old = this.producer;
    this.producer = undefined;
    void old?.then((p) => p.disconnect()).catch(() => undefined);
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch: Queued[] = [];
        let bytes = 0;
        while (this.queue.length > 0 && (batch.length === 0 || bytes + this.queue[0]!.size <= this.maxBatchBytes)) {
          const next = this.queue.shift()!;
          bytes += next.size;
          batch.push(next);
        }
        try {
          if (this.closed) throw new Error('the transport is closed');
          const producer = await this.getProducer();
          const byTopic = new Map<string, Message[]>();
          for (const q of batch) {
            let list = byTopic.get(q.topic);
            if (!list) {
              list = [];
              byTopic.set(q.topic, list);
            }
            list.push(q.message);
          }
          await producer.sendBatch({
            acks: -1,
            timeout: this.requestTimeout,
            compression: CompressionTypes.None,
            topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          });
          for (const q of batch) q.resolve();
        } catch (err) {
          this.logger.debug('Kafka produce request failed', { messages: batch.length, error: errorMessage(err) });
          this.reset();
          for (const q of batch) q.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer.catch(() => undefined))?.disconnect();
  }
}
