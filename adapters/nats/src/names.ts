/**
 * Portable Switchyard names → JetStream names, by a fixed rule that never collides.
 *
 *   subject   <prefix>.<topic>                    when every "."-separated part of the topic is non-empty
 *             <prefix>.~<escaped topic>           otherwise ("a..b", "a."): one token, "~" marks it
 *   stream    <prefix>_<escaped topic>            one stream per topic, capturing its subject only
 *   consumer  <escaped group>                     one durable per (topic, group), inside the topic's stream
 *   direct    <prefix>.~req.<escaped topic>       core NATS subject of the topic's direct requests (direct.ts)
 *
 * Escaping: "_" → "_5F" and "." → "_2E" (stream and consumer names cannot hold "."); letters,
 * digits and "-" stay. Every "_" in an escaped name starts a three-character escape, so the name
 * decodes back to exactly one topic or group. A name longer than MAX_NAME chars becomes its first
 * 100 chars + "_H" + the first 32 hex digits of the SHA-256 of the topic (or group): "_H" is no
 * escape, so a hashed name never equals an unhashed one, and two hashed names differ unless
 * SHA-256 collides on its first 128 bits. Portable names contain no "~", so the two subject forms
 * never meet, and no subject of one topic is a prefix-wildcard of another's (no wildcards at all).
 * A direct subject has two tokens after the prefix ("~req" and an escaped name, which holds no "."),
 * where a topic's "~" subject has one: no stream captures a direct subject.
 */
import { createHash } from 'node:crypto';
import { remembered } from '@switchyard/core/spi';

/** Stream and consumer names become file names on the server: stay well inside 255. */
export const MAX_NAME = 200;

export function escapeName(name: string): string {
  const escaped = name.replace(/[_.]/g, (c) => (c === '_' ? '_5F' : '_2E'));
  if (escaped.length <= MAX_NAME) return escaped;
  return `${escaped.slice(0, 100)}_H${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

export interface Names {
  subject(topic: string): string;
  stream(topic: string): string;
  consumer(group: string): string;
  direct(topic: string): string;
}

/** Every publish and request derives its topic's names: each is derived once (remembered). */
export function names(prefix: string): Names {
  return {
    subject: remembered((topic) => (topic.split('.').every((part) => part !== '') ? `${prefix}.${topic}` : `${prefix}.~${escapeName(topic)}`)),
    stream: remembered((topic) => `${prefix}_${escapeName(topic)}`),
    consumer: (group) => escapeName(group),
    direct: remembered((topic) => `${prefix}.~req.${escapeName(topic)}`),
  };
}
