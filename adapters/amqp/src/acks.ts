/**
 * Acks on one channel, sent together: RabbitMQ's basic.ack with `multiple` settles every unacked
 * delivery up to its tag in one frame, where one frame per message made the broker do one
 * settlement (on a quorum queue, one Raft command) per message — most of the broker's CPU per
 * consumed message, on a machine the broker shares with the clients.
 *
 * Acks asked for while the process handles one batch of incoming frames go out at the end of it
 * (a nextTick, which still comes before amqplib's muxer writes that round's frames: nothing leaves
 * later than before). Then the longest run of acked deliveries from the oldest one still
 * unsettled goes as one ack with `multiple`; acked deliveries behind one still in a handler go
 * one by one, so a slow handler never holds back the others' acks (they would count against the
 * prefetch). Nacks are sent at once, as before.
 *
 * Correct only if every delivery of the channel is announced here (delivered()) in the order the
 * broker numbered them, which AmqpTransport does for each message it consumes or pulls; `multiple`
 * then never settles one that is not acked. A channel is closed only after flush() (closeQuietly).
 */
import type { Channel, Message } from 'amqplib';

/**
 * What amqplib's ack and nack read of a message: its tag. Deliveries keep only the tag, so the
 * message amqplib decoded (its properties and header table) is not held while a handler runs.
 */
const byTag = (deliveryTag: number) => ({ fields: { deliveryTag } }) as Message;

export class ChannelAcks {
  /** Tags of deliveries handed out and not settled, oldest first (tags grow per channel). */
  private readonly unsettled = new Set<number>();
  /** Acked, not yet sent. */
  private readonly acked = new Set<number>();
  private scheduled = false;
  private readonly flushSoon = () => this.flush();

  constructor(
    private readonly ch: Channel,
    /** An ack or nack on a channel that closed meanwhile (amqplib throws): RabbitMQ redelivers those. */
    private readonly onClosed: (err: unknown) => void,
  ) {}

  delivered(tag: number): void {
    this.unsettled.add(tag);
  }

  ack(tag: number): void {
    this.acked.add(tag);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(this.flushSoon);
  }

  /** Back to the queue at once (nack with requeue). */
  requeue(tag: number): void {
    this.unsettled.delete(tag);
    try {
      this.ch.nack(byTag(tag), false, true);
    } catch (err) {
      this.onClosed(err);
    }
  }

  /** Send the acks asked for so far. */
  flush(): void {
    this.scheduled = false;
    if (this.acked.size === 0) return;
    let upTo: number | undefined;
    for (const tag of this.unsettled) {
      if (!this.acked.has(tag)) break;
      this.unsettled.delete(tag);
      this.acked.delete(tag);
      upTo = tag;
    }
    try {
      if (upTo !== undefined) this.ch.ack(byTag(upTo), true);
      for (const tag of this.acked) {
        this.unsettled.delete(tag);
        this.ch.ack(byTag(tag));
      }
    } catch (err) {
      this.onClosed(err);
    } finally {
      this.acked.clear();
    }
  }
}

const byChannel = new WeakMap<object, ChannelAcks>();

/** The acks of `ch`, made on first use. */
export function acksOf(ch: Channel, onClosed: (err: unknown) => void): ChannelAcks {
  let acks = byChannel.get(ch);
  if (acks === undefined) {
    acks = new ChannelAcks(ch, onClosed);
    byChannel.set(ch, acks);
  }
  return acks;
}

/** Send what `closable` (a channel) still has to ack before it closes: closing would requeue them. */
export function flushAcks(closable: object): void {
  byChannel.get(closable)?.flush();
}
