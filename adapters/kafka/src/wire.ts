/**
 * WireMessage ⇄ Kafka record, following the CloudEvents Kafka protocol binding (binary mode):
 * `ce-*` attributes travel as `ce_*` headers, the media type as `content-type`, the body as the
 * record value and the Switchyard key as the record key. Other headers pass through unchanged.
 * An event without data (core sends no content-type and no bytes) is a record with a null value,
 * as the binding prescribes; a null value is read back as an event without data.
 *
 * Both directions map names in one pass (what core's toBindingHeaders / fromBindingHeaders do
 * with the `ce_` prefix, plus `content-type` in any case), with each name's translation cached:
 * the same handful of names comes with every message.
 */
import type { WireMessage } from '@switchyard/core';
import { Attr, CE_PREFIX, remembered } from '@switchyard/core/spi';
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';

export const KAFKA_PREFIX = 'ce_';

/** ce-<attr> → ce_<attr>; other names as they are (translated once per name: remembered). */
const kafkaName = remembered((name) => (name.startsWith(CE_PREFIX) ? KAFKA_PREFIX + name.slice(CE_PREFIX.length) : name));

/** ce_<attr> in any case → ce-<attr in lower case>; content-type in any case → content-type (the binding's name); others as they are. */
const switchyardName = remembered((name) => {
  const lower = name.toLowerCase();
  if (lower.startsWith(KAFKA_PREFIX)) return CE_PREFIX + lower.slice(KAFKA_PREFIX.length);
  return lower === Attr.contentType ? Attr.contentType : name;
});

/** The record for `wire`; `extraHeaders` (already in Kafka form) are added after the message's own. */
export function toKafkaMessage(wire: WireMessage, extraHeaders?: Readonly<Record<string, string>>): Message {
  const body = wire.body;
  const noData = body.byteLength === 0 && wire.headers[Attr.contentType] === undefined;
  const headers: Record<string, string> = {};
  for (const name in wire.headers) headers[kafkaName(name)] = wire.headers[name]!;
  if (extraHeaders !== undefined) for (const name in extraHeaders) headers[name] = extraHeaders[name]!;
  return {
    key: wire.key ?? null,
    value: noData ? null : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    headers,
  };
}

/** A header's text (the first value of a repeated one). */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  return (Array.isArray(raw) ? raw[0] : raw)?.toString();
}

export function fromKafkaMessage(message: KafkaMessage): WireMessage {
  const headers: Record<string, string> = {};
  const raw = message.headers;
  if (raw !== undefined) {
    for (const name in raw) {
      const value = raw[name];
      // A repeated header: its first value. A null value (or none) is no header.
      const first = Array.isArray(value) ? value[0] : value;
      if (first === undefined || first === null) continue;
      headers[switchyardName(name)] = typeof first === 'string' ? first : first.toString();
    }
  }
  const value = message.value;
  const body = value === null ? new Uint8Array(0) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  const key = message.key === null || message.key === undefined ? undefined : message.key.toString('utf8');
  return key === undefined ? { body, headers } : { body, headers, key };
}
