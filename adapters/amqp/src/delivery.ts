/**
 * How a received message is settled on the channel it came from. One object per delivery with
 * methods, not closures: core's settleOnce keeps it as the delivery's parts, and every message
 * consumed or pulled makes one (five closures and their context each, before).
 */
import type { Channel, ConsumeMessage, GetMessage } from 'amqplib';
import type { DeliveryParts, Logger, WireMessage } from '@switchyard/core/spi';
import { errorMessage } from '@switchyard/core/spi';

/** What settling needs from the transport: its logger, and the delay bucket for a delayed nack. */
export interface Redeliveries {
  readonly logger: Logger;
  /** A confirmed copy of `message` into the delay bucket, due back in `queue` after `delayMs`. */
  redeliverLater(queue: string, message: WireMessage, deliveryCount: number, delayMs: number): Promise<void>;
}

export class AmqpDeliveryParts implements DeliveryParts {
  constructor(
    readonly message: WireMessage,
    readonly deliveryCount: number,
    private readonly ch: Channel,
    private readonly msg: ConsumeMessage | GetMessage,
    private readonly queue: string,
    private readonly redeliveries: Redeliveries,
  ) {}

  ack(): void {
    try {
      this.ch.ack(this.msg);
    } catch (err) {
      this.settledOnClosedChannel(err);
    }
  }

  abandon(): void {
    try {
      this.ch.nack(this.msg, false, true);
    } catch (err) {
      this.settledOnClosedChannel(err);
    }
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

  /** Settling on a channel that died is moot (amqplib throws): RabbitMQ redelivers those messages. */
  private settledOnClosedChannel(err: unknown): void {
    this.redeliveries.logger.debug('Settling on a closed channel; RabbitMQ redelivers the message', { error: errorMessage(err) });
  }
}
