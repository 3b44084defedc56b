/**
 * Idempotent producer (acks=all, one request in flight) behind core's Batcher: publishes that
 * arrive while a produce request is in flight go out together in the next one, in arrival
 * order, so per-key order is kept and throughput does not depend on one round trip per message.
 * Each publish resolves only when the broker acknowledged the request that carried it.
 */
import type { Logger } from '@switchyard/core';
import { Batcher, errorMessage } from '@switchyard/core/spi';
import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';

interface Outgoing {
  readonly topic: string;
  readonly message: Message;
}

export class Publisher {
  private readonly batcher: Batcher<Outgoing>;
  private producer: Promise<Producer> | undefined;
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    maxBatchBytes: number,
    private readonly requestTimeout: number,
    private readonly logger: Logger,
  ) {
    this.batcher = new Batcher({ maxBatchBytes, send: (records) => this.sendBatch(records) });
  }

  connect(): Promise<void> {
    return this.getProducer().then(() => undefined);
  }

  send(topic: string, message: Message, size: number): Promise<void> {
    return this.batcher.add({ topic, message }, size);
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

  private async sendBatch(records: Outgoing[]): Promise<void> {
    try {
      if (this.closed) throw new Error('the transport is closed');
      const producer = await this.getProducer();
      const byTopic = new Map<string, Message[]>();
      for (const { topic, message } of records) {
        const list = byTopic.get(topic);
        if (list) list.push(message);
        else byTopic.set(topic, [message]);
      }
      const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
      await producer.sendBatch({ acks: -1, timeout: this.requestTimeout, compression: CompressionTypes.None, topicMessages });
    } catch (err) {
      this.logger.debug('Kafka produce request failed', { messages: records.length, error: errorMessage(err) });
      // The idempotent producer's sequence state may no longer match the broker's (e.g. after a
      // broker restart): start over with a fresh producer id.
      const old = this.producer;
      this.producer = undefined;
      void old?.then((p) => p.disconnect()).catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer.catch(() => undefined))?.disconnect();
  }
}
