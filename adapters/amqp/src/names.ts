/**
 * Portable Switchyard names → RabbitMQ names, by a fixed rule that never collides.
 *
 *   topics exchange   <prefix>.topics            (direct, durable; routing key = topic)
 *   delay exchange    <prefix>.delay             (headers, durable)
 *   group queue       <prefix>/<topic>/<group>   (quorum by default, durable)
 *   delay bucket      <prefix>/~delay/<ms>       (classic, durable, dead-letters to <prefix>.topics)
 *
 * Topic and group names match ^[a-z0-9][a-z0-9._-]{0,199}$ (case kept), so they never contain
 * "/" or "~": splitting a group queue name on "/" gives back exactly (prefix, topic, group), and
 * internal queues ("~" segment) can't be mistaken for a group queue. A group queue name longer
 * than 255 bytes (AMQP's short-string limit) becomes
 *   <prefix>/<first 80 chars of topic>/<first 80 chars of group>/~<sha256(topic "/" group), 32 hex>
 * which has four segments and a "~", so it can't equal an unhashed name, and two hashed names
 * differ unless SHA-256 collides on its first 128 bits.
 */
import { createHash } from 'node:crypto';

export const MAX_AMQP_NAME_BYTES = 255;

export type Names = ReturnType<typeof names>;

export function names(prefix: string) {
  return {
    topicsExchange: `${prefix}.topics`,
    delayExchange: `${prefix}.delay`,
    groupQueue: (topic: string, group: string) => groupQueueName(prefix, topic, group),
    delayQueue: (bucketMs: number) => `${prefix}/~delay/${bucketMs}`,
  };
}

export function groupQueueName(prefix: string, topic: string, group: string): string {
  const plain = `${prefix}/${topic}/${group}`;
  if (Buffer.byteLength(plain) <= MAX_AMQP_NAME_BYTES) return plain;
  const digest = createHash('sha256').update(`${topic}/${group}`).digest('hex').slice(0, 32);
  return `${prefix}/${topic.slice(0, 80)}/${group.slice(0, 80)}/~${digest}`;
}

/**
 * Delay buckets: a delay of d ms waits in the bucket queue for the next power of two ≥ d
 * (min 1 ms). Each message carries its exact delay as a per-message TTL; since RabbitMQ only
 * expires the head of a queue, a message can wait behind an earlier one of the same bucket,
 * but never longer than the bucket size (< 2 × its delay).
 */
export function delayBucket(delayMs: number): number {
  const d = Math.max(1, Math.ceil(delayMs));
  return 2 ** Math.ceil(Math.log2(d));
}
