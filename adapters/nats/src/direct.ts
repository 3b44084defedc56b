/**
 * Direct requests over core NATS (Transport.requestDirect): a request goes straight to one live
 * member of each group answering requests on its topic (a queue subscription per group), not
 * through the topic's stream; the first reply comes back on the requester's direct-reply inbox
 * (replies.ts). When no member is live the server says so at once ("no responders") and core
 * stores the request in the stream instead, so a declared group that is down still answers it
 * when it is back.
 *
 * Why not everything through the stream: a stored request costs a JetStream publish, a consumer
 * fetch and an ack before the handler even starts (about 1 ms here against 0.2 ms for core NATS,
 * npm run bench). What the stream would add for a live member — redelivery if it crashes while
 * handling — comes after AckWait (10 s by default), later than a request's timeout (5 s by
 * default), so the requester would not see that answer anyway.
 *
 * A direct request is handed over once: its delivery's ack and nack settle nothing on the
 * server, and one handed back (abandoned by a closing subscription) is dropped — the requester
 * then times out, as with any request its responder never answered.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Delivery, Logger, TransportConsumer, WireMessage } from '@switchyard/core';
import { errorMessage, outlasts, ReplyAttr } from '@switchyard/core/spi';
import { NoRespondersError, type Replies } from './replies.js';
import { fromNatsMsg, toNatsHeaders } from './wire.js';

/** Longest a stopping member waits for the server to confirm it takes no more direct requests. */
const DRAIN_WAIT_MS = 2_000;

/** Send a request to a live member; undefined when there is none. `replies` must be answerable by reply handlers. */
export async function requestDirect(replies: Replies, subject: string, message: WireMessage, waitMs: number): Promise<WireMessage | undefined> {
  try {
    // No ce-replyto: the member answers the request's reply subject (directDelivery), and the
    // header would be 50 bytes more each way through the server.
    const reply = await replies.request(subject, message.body, waitMs, toNatsHeaders(message, { omit: ReplyAttr.replyTo }));
    return fromNatsMsg(reply);
  } catch (err) {
    if (err instanceof NoRespondersError) return undefined;
    throw err;
  }
}

/** Take `group`'s share of the direct requests for a topic and hand each to core as a delivery. */
export function serveDirect(nc: NatsConnection, subject: string, group: string, logger: Logger, onDelivery: (delivery: Delivery) => void): TransportConsumer {
  const sub: Subscription = nc.subscribe(subject, {
    queue: group,
    callback: (err, msg) => {
      if (err) return logger.warn('Direct requests stopped arriving; requests are stored in the stream instead', { subject, error: errorMessage(err) });
      if (!msg.reply) return; // not a request: nobody to answer
      try {
        onDelivery(directDelivery(msg, logger));
      } catch (decodeErr) {
        logger.warn('Dropped a direct request that could not be read', { subject, error: errorMessage(decodeErr) });
      }
    },
  });
  const stop = async () => {
    if (sub.isClosed() || sub.isDraining()) return;
    // Drained: requests already on their way here are still handed over; new ones go to other
    // members. A drain waits for the server, so a connection that is down cuts it short.
    await outlasts(
      sub.drain().catch(() => undefined),
      DRAIN_WAIT_MS,
    );
    if (!sub.isClosed()) sub.unsubscribe();
  };
  return { stop, close: stop };
}

function directDelivery(msg: Msg, logger: Logger): Delivery {
  const message = fromNatsMsg(msg);
  // The reply goes where this request's sender waits: its request subject (a ce-replyto it may carry names the stored path's inbox).
  message.headers[ReplyAttr.replyTo] = msg.reply!;
  return {
    message,
    deliveryCount: 1,
    ack: async () => undefined,
    nack: async () => logger.debug('A direct request cannot be handed back for a retry; it is dropped', { subject: msg.subject }),
    abandon: async () => logger.debug('A direct request handed back while closing is dropped; its requester times out', { subject: msg.subject }),
    extend: async () => true,
  };
}
