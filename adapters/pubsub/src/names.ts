/**
 * Portable Switchyard names → Pub/Sub resource ids, by a fixed rule that never collides.
 *
 * Pub/Sub ids are 3–255 characters of letters, digits and `-_.~+%`, start with a letter and never
 * with "goog". Portable names are ^[a-z0-9][a-z0-9._-]{0,199}$ (case kept) and never contain "~".
 *
 *   topic          the topic name itself, when it starts with a letter, has at least 3 characters
 *                  and does not start with "goog" (any case); otherwise `sy~<topic>`
 *   subscription   `<topic id>~<group>`; when that is longer than 255 characters,
 *                  `<its first 190 characters>~~<first 32 hex digits of its SHA-256>`
 *
 * A topic id with "~" always starts with `sy~` followed by a portable name, so two topics never
 * share an id. A subscription id splits at its last "~" into (topic id, group); a shortened one
 * contains "~~", which no unshortened id does, and two shortened ids differ unless SHA-256
 * collides on its first 128 bits.
 */
import { createHash } from 'node:crypto';

export const MAX_ID_LENGTH = 255;

export function topicId(topic: string): string {
  const plain = /^[a-z]/i.test(topic) && topic.length >= 3 && !/^goog/i.test(topic);
  return plain ? topic : `sy~${topic}`;
}

export function subscriptionId(topic: string, group: string): string {
  const full = `${topicId(topic)}~${group}`;
  if (full.length <= MAX_ID_LENGTH) return full;
  return `${full.slice(0, 190)}~~${createHash('sha256').update(full).digest('hex').slice(0, 32)}`;
}

/** Core's private reply topics (request/reply emulated over a topic per bus). */
export function isReplyTopic(topic: string): boolean {
  return topic.startsWith('switchyard.reply.');
}
