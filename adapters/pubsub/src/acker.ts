/**
 * Acks and ack-deadline changes batched per subscription (and, for modifyAckDeadline, per
 * deadline; see KeyedBatcher): those of one event-loop turn, and those made while the previous
 * request is in flight, go in one request. A request per message was most of the client's CPU on
 * the consume path. Each ack or deadline change resolves only when Pub/Sub answered the request
 * that carried it, and fails with that request's error.
 */
import type { v1 } from '@google-cloud/pubsub';
import { KeyedBatcher } from '@switchyard/core/spi';

/**
 * Pub/Sub takes up to 512 KiB per acknowledge or modifyAckDeadline request
 * (cloud.google.com/pubsub/quotas); ack ids are a few hundred bytes at most. These are the
 * high-level client's own limits, a little lower.
 */
const MAX_ACK_IDS_PER_REQUEST = 2500;
const MAX_ACK_REQUEST_BYTES = 500 * 1024;
/** Protobuf framing of one ack id in the request (tag and length). */
const FRAMING_BYTES_PER_ACK_ID = 4;

export class Acker {
  private readonly acks: KeyedBatcher<string>;
  /** Keyed by `<seconds> <subscription>` (a request carries one deadline). */
  private readonly deadlines: KeyedBatcher<string>;

  constructor(client: v1.SubscriberClient) {
    const limits = { maxBatchBytes: MAX_ACK_REQUEST_BYTES, maxBatchItems: MAX_ACK_IDS_PER_REQUEST };
    this.acks = new KeyedBatcher<string>({
      ...limits,
      send: async (subscription, ackIds) => {
        await client.acknowledge({ subscription, ackIds });
      },
    });
    this.deadlines = new KeyedBatcher<string>({
      ...limits,
      send: async (key, ackIds) => {
        const space = key.indexOf(' ');
        await client.modifyAckDeadline({ subscription: key.slice(space + 1), ackIds, ackDeadlineSeconds: Number(key.slice(0, space)) });
      },
    });
  }

  ack(subscription: string, ackId: string): Promise<void> {
    return this.acks.add(subscription, ackId, ackId.length + FRAMING_BYTES_PER_ACK_ID);
  }

  /** Set the ack deadline of `ackIds` to `seconds` from now (0: hand them back at once). */
  async modifyDeadline(subscription: string, ackIds: readonly string[], seconds: number): Promise<void> {
    const key = `${seconds} ${subscription}`;
    await Promise.all(ackIds.map((ackId) => this.deadlines.add(key, ackId, ackId.length + FRAMING_BYTES_PER_ACK_ID)));
  }

  /** Forget the batchers; what they still hold goes to a closed client and fails. */
  close(): void {
    this.acks.clear();
    this.deadlines.clear();
  }
}
