/**
 * How a received message is settled, through the acks of the channel it came from. One object per delivery with
 * methods, not closures: core's settleOnce keeps it as the delivery's parts, and every message
 * consumed or pulled makes one (five closures and their context each, before).
 */
import type { DeliveryParts, Logger, WireMessage } from '@switchyard/core/spi';
import { errorMessage } from '@switchyard/core/spi';
import type { ChannelAcks } from './acks.js';

/** What a delayed nack needs from the transport: its logger, and the delay bucket. */
export interface Redeliveries {
  readonly logger: Logger;
  /** A confirmed copy of `message` into the delay bucket, due back in `queue` after `delayMs`. */
  redeliverLater(queue: string, message: WireMessage, deliveryCount: number, delayMs: number): Promise<void>;
}

export class AmqpDeliveryParts implements DeliveryParts {
  constructor(
    readonly message: WireMessage,
    readonly deliveryCount: number,
    /** The acks of the channel it came from. */
    private readonly acks: ChannelAcks,
    /** Its delivery tag on that channel. */
    private readonly tag: number,
    private readonly queue: string,
    private readonly redeliveries: Redeliveries,
  ) {}

  ack(): void {
    this.acks.ack(this.tag);
  }

  abandon(): void {
    this.acks.requeue(this.tag);
  }

  /**
   * Delayed redelivery without holding the message here: a confirmed copy into the delay bucket
   * (carrying the deliveries used so far), then ack the original. Without a delay, or if the copy
   * fails, back into the queue at once.
   */
  async nack({ delayMs }: { delayMs: number }): Promise<void> {
    if (delayMs <= 0) return this.abandon();
    try {
      await this.redeliveries.redeliverLater(this.queue, this.message, this.deliveryCount, delayMs);
    } catch (err) {
      this.redeliveries.logger.warn('Could not schedule a delayed redelivery; requeueing at once', { queue: this.queue, error: errorMessage(err) });
      return this.abandon();
    }
    this.ack();
  }
}
