/**
 * RabbitMQ direct reply-to (https://www.rabbitmq.com/docs/direct-reply-to): a requester consumes
 * the pseudo-queue `amq.rabbitmq.reply-to` (no-ack) on a channel, and replies sent through the
 * default exchange to `amq.rabbitmq.reply-to.<token>` go straight to that consumer — no queue is
 * declared, stored or deleted per requester.
 *
 * The broker hands out the token by rewriting the `reply-to` property of a message published on
 * that channel with `reply-to = amq.rabbitmq.reply-to`. The token names the consumer (it stays
 * the same for every publish on the channel while the consumer lives), so the inbox learns it
 * once, from one probe RabbitMQ returns as unroutable, and requests can then carry it from any
 * channel, in `reply-to`.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { ConnectionError } from '@switchyard/core';

/** The pseudo-queue a requester consumes, and the `reply-to` value the broker rewrites. */
export const DIRECT_REPLY_QUEUE = 'amq.rabbitmq.reply-to';
const DIRECT_REPLY_PREFIX = `${DIRECT_REPLY_QUEUE}.`;

/** Whether `address` is a direct reply-to address (a consumer's token, as the broker wrote it). */
export function isDirectReplyAddress(address: unknown): address is string {
  return typeof address === 'string' && address.startsWith(DIRECT_REPLY_PREFIX);
}

/**
 * The address replies to `ch`'s direct reply-to consumer go to. `ch` must already consume
 * DIRECT_REPLY_QUEUE. The probe is published with mandatory to routing key DIRECT_REPLY_QUEUE,
 * which never names a queue (clients cannot declare `amq.` queues), so RabbitMQ returns it at once
 * with the `reply-to` it rewrote.
 */
export async function learnReplyAddress(ch: Channel, timeoutMs: number): Promise<string> {
  let onReturn: ((msg: ConsumeMessage) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      onReturn = (msg) => {
        const address: unknown = msg.properties.replyTo;
        if (isDirectReplyAddress(address)) resolve(address);
        else
          reject(
            new ConnectionError(
              `RabbitMQ did not assign a direct reply-to address (reply-to came back as ${JSON.stringify(address)}); the broker must support direct reply-to (RabbitMQ 3.4 or later).`,
            ),
          );
      };
      ch.on('return', onReturn);
      timer = setTimeout(
        () =>
          reject(new ConnectionError(`RabbitMQ did not return the direct reply-to probe within ${timeoutMs} ms; the broker must support direct reply-to (RabbitMQ 3.4 or later).`)),
        timeoutMs,
      );
      ch.publish('', DIRECT_REPLY_QUEUE, Buffer.alloc(0), { mandatory: true, replyTo: DIRECT_REPLY_QUEUE });
    });
  } finally {
    clearTimeout(timer);
    if (onReturn !== undefined) ch.off('return', onReturn);
  }
}

/**
 * Where replies reach one inbox. Core keeps the address it was given for the bus's lifetime, but
 * a new consumer (after a reconnect or a channel error) gets a new token: requests naming the
 * inbox are sent with the live token instead (see AmqpTransport.publish).
 */
export class ReplyRoute {
  /** The token of the inbox's consumer now; undefined while its channel is down. */
  live: string | undefined;
  private waiters: ((address: string) => void)[] = [];

  /** `ch` now consumes direct reply-to with token `address`, until it closes. */
  attached(ch: Channel, address: string): void {
    this.live = address;
    ch.once('close', () => {
      if (this.live === address) this.live = undefined;
    });
    for (const wake of this.waiters.splice(0)) wake(address);
  }

  /** The live token, waiting up to timeoutMs for the inbox to re-attach. */
  async whenLive(timeoutMs: number): Promise<string> {
    if (this.live !== undefined) return this.live;
    let timer: NodeJS.Timeout | undefined;
    let wake: ((address: string) => void) | undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        wake = resolve;
        this.waiters.push(resolve);
        timer = setTimeout(
          () => reject(new ConnectionError(`The request's reply inbox did not re-attach to RabbitMQ within ${Math.round(timeoutMs)} ms; nothing was sent. Retry the request.`)),
          Math.max(1, timeoutMs),
        );
      });
    } finally {
      clearTimeout(timer);
      this.waiters = this.waiters.filter((w) => w !== wake);
    }
  }
}
