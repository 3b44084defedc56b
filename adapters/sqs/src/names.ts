/**
 * Switchyard (topic, group) → SQS queue name, by a fixed rule that never collides.
 *
 *   <prefix>_<topic readable>_<T>_<G>_<group readable>[.fifo]
 *
 * T is the first 16 hex digits of SHA-256(topic), G the first 12 of SHA-256(topic "\n" group):
 * the hashes carry identity, the readable parts (topic cut to 20 characters, group to what is
 * left of SQS's 80, "." and "_" turned into "-") are for humans. Every queue of a topic starts
 * with `<prefix>_<topic readable>_<T>_`: the readable part has no "_", so the first "_" after the
 * prefix ends it, and no other topic's queue starts the same way unless SHA-256 collides on 64
 * bits. Listing queues by that prefix (ListQueues QueueNamePrefix) finds every group of a topic.
 */
import { createHash } from 'node:crypto';

export const MAX_QUEUE_NAME = 80;
const TOPIC_READABLE = 20;
const FIFO_SUFFIX = '.fifo';

const hex = (text: string, digits: number) => createHash('sha256').update(text).digest('hex').slice(0, digits);
const readable = (name: string, max: number) => name.replace(/[^A-Za-z0-9-]/g, '-').slice(0, Math.max(0, max));

export class QueueNames {
  constructor(
    private readonly prefix: string,
    readonly fifo: boolean,
  ) {}

  /** What every queue name of this topic starts with. */
  topicPrefix(topic: string): string {
    return `${this.prefix}_${readable(topic, TOPIC_READABLE)}_${hex(topic, 16)}_`;
  }

  groupQueue(topic: string, group: string): string {
    const head = `${this.topicPrefix(topic)}${hex(`${topic}\n${group}`, 12)}_`;
    const room = MAX_QUEUE_NAME - head.length - (this.fifo ? FIFO_SUFFIX.length : 0);
    return `${head}${readable(group, room)}${this.fifo ? FIFO_SUFFIX : ''}`;
  }

  /** A listed queue URL belongs to this mode (FIFO queues end in .fifo; a topic may have both kinds). */
  isOurs(queueUrl: string): boolean {
    return queueUrl.endsWith(FIFO_SUFFIX) === this.fifo;
  }
}

/** The queue name at the end of a queue URL. */
export function queueNameOf(queueUrl: string): string {
  return queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
}
