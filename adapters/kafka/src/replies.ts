/**
 * Core's private reply topics (`switchyard.reply.<service>.<bus id>`, one per bus, consumed by a
 * group of the same name) are logical on Kafka: all of them live in one shared topic,
 * `switchyard.replies`, created once and never deleted. A reply carries its logical topic in the
 * `x-switchyard-inbox` header, and each bus's consumer group reads the shared topic from where
 * it joined and hands core only its own replies. Closing the bus deletes its group (with its
 * offsets), so nothing of it is left, and no topic is ever deleted: deleting topics breaks the
 * metadata of every kafkajs client that wrote to them (kafkajs#1146, #1622).
 */
import type { KafkaMessage } from 'kafkajs';
import { headerText } from './wire.js';

export const REPLY_TOPIC_PREFIX = 'switchyard.reply.';
export const REPLIES_TOPIC = 'switchyard.replies';
export const INBOX_HEADER = 'x-switchyard-inbox';

/** A reply is read at once; it is kept as long as a request may wait for it (core's longest timeout, a day). */
export const REPLIES_TOPIC_CONFIG = [
  { name: 'retention.ms', value: String(24 * 3600_000) },
  { name: 'segment.ms', value: String(3600_000) },
];

export function isInbox(topic: string): boolean {
  return topic.startsWith(REPLY_TOPIC_PREFIX);
}

/** The Kafka topic that carries a Switchyard topic. */
export function physicalTopic(topic: string): string {
  return isInbox(topic) ? REPLIES_TOPIC : topic;
}

/** Whether a record of the shared topic is a reply to `inbox`. */
export function isReplyTo(message: KafkaMessage, inbox: string): boolean {
  return headerText(message.headers, INBOX_HEADER) === inbox;
}
