/**
 * One socket write per round of outgoing frames instead of one per frame.
 *
 * amqplib queues each channel's frames and its muxer copies them to the socket in a setImmediate
 * round, one `socket.write` per frame (a publish, an ack, a reply): with TCP_NODELAY each is a
 * syscall of its own, the largest single CPU cost per message in the profiles. Corking the socket
 * for the round makes them one writev, sent at the end of the same round — no frame waits longer
 * than before, and what is written, and in which order, does not change.
 */
import type { ChannelModel } from 'amqplib';

interface MuxInternals {
  _readIncoming?: () => void;
}
interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Cork `conn`'s socket around each of its muxer's rounds. amqplib's muxer is internal: if a
 * version lacks it the connection is left as it is (one write per frame, as before).
 */
export function coalesceWrites(conn: ChannelModel): boolean {
  const connection = conn.connection as unknown as { muxer?: MuxInternals; stream?: Partial<Corkable> };
  const { muxer, stream } = connection;
  const readIncoming = muxer?._readIncoming;
  if (muxer === undefined || typeof readIncoming !== 'function' || typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return false;
  const socket = stream as Corkable;
  muxer._readIncoming = function coalescedRound(this: MuxInternals) {
    socket.cork();
    try {
      readIncoming.call(this);
    } finally {
      socket.uncork();
    }
  };
  return true;
}
