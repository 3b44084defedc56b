/**
 * Publishes batched per topic (a Publish request names one topic; see KeyedBatcher): publishes of
 * one event-loop turn, and those that arrive while the topic's request is in flight, go out
 * together in the next request, in arrival order — one request per topic in flight, so a key's
 * messages reach Pub/Sub in the order they were published. Each publish resolves only when Pub/Sub
 * confirmed the request that carried it.
 *
 * The client's own bundling is off: google-gax bundles Publish calls per its generated config (up
 * to 100 messages or 10 ms), so a publish alone waited 10 ms for company that never came.
 *
 * Pub/Sub refuses a request as a whole when one message in it is bad (INVALID_ARGUMENT): the
 * batch's messages are then sent again one by one, so only the bad one fails.
 */
import { status } from '@grpc/grpc-js';
import type { v1 } from '@google-cloud/pubsub';
import { KeyedBatcher, retrying } from '@switchyard/core/spi';
import { grpcCode } from './grpc-code.js';
import type { PubsubMessage } from './wire.js';

/** Pub/Sub's limits per Publish request (cloud.google.com/pubsub/quotas): 1,000 messages… */
export const MAX_BATCH_MESSAGES = 1000;
/** …and 10 MB; this leaves room for the topic name and the request's own framing. */
export const MAX_BATCH_BYTES = 9_990_000;

export interface PublisherHooks {
  readonly client: v1.PublisherClient;
  readonly timeoutMs: number;
  /** The topic's Pub/Sub path. */
  topicPath(topic: string): string;
  /** Create the topic on first use. */
  ensureTopic(topic: string): Promise<void>;
  /** The topic vanished (an emulator restarted): create it again, with the groups known for it. */
  redeclare(topic: string): Promise<void>;
  isClosed(): boolean;
}

interface Outgoing {
  readonly message: PubsubMessage;
  /** Set when the batch was refused and this message, sent again alone, failed. */
  failure?: unknown;
}

export class Publisher {
  private readonly batches = new KeyedBatcher<Outgoing>({
    maxBatchBytes: MAX_BATCH_BYTES,
    maxBatchItems: MAX_BATCH_MESSAGES,
    send: (topic, batch) => this.sendBatch(topic, batch),
  });

  constructor(private readonly hooks: PublisherHooks) {}

  /** Resolves once Pub/Sub confirmed the request carrying `message`; rejects with that request's (or, after a refused batch, this message's own) gRPC error. */
  async publish(topic: string, message: PubsubMessage, bytes: number): Promise<void> {
    const outgoing: Outgoing = { message };
    await this.batches.add(topic, outgoing, bytes);
    if (outgoing.failure !== undefined) throw outgoing.failure;
  }

  /** Forget the queues; what they still hold fails (the transport is closed). */
  close(): void {
    this.batches.clear();
  }

  private async sendBatch(topic: string, batch: Outgoing[]): Promise<void> {
    try {
      await this.send(
        topic,
        batch.map((o) => o.message),
      );
    } catch (err) {
      if (batch.length === 1 || grpcCode(err) !== status.INVALID_ARGUMENT) throw err;
      // One bad message refuses the whole request: the others must not fail with it.
      for (const outgoing of batch) {
        try {
          await this.send(topic, [outgoing.message]);
        } catch (alone) {
          outgoing.failure = alone;
        }
      }
    }
  }

  /** One Publish request; a topic that vanished is created again (with its groups) and the request sent once more. */
  private send(topic: string, messages: PubsubMessage[]): Promise<void> {
    const hooks = this.hooks;
    return retrying(
      async (attempt) => {
        if (hooks.isClosed()) throw new Error('the transport is closed');
        if (attempt > 1) await hooks.redeclare(topic);
        await hooks.ensureTopic(topic);
        await hooks.client.publish({ topic: hooks.topicPath(topic), messages }, { timeout: hooks.timeoutMs, isBundling: false });
      },
      { initialDelayMs: 20, maxDelayMs: 200, attempts: 3, retryIf: (err) => grpcCode(err) === status.NOT_FOUND && !hooks.isClosed() },
    );
  }
}
