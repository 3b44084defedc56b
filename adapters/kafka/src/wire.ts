/**
 * WireMessage ⇄ Kafka record, following the CloudEvents Kafka protocol binding (binary mode):
 * `ce-*` attributes travel as `ce_*` headers, the media type as `content-type`, the body as the
 * record value and the Switchyard key as the record key. Other headers pass through unchanged.
 * An event without data (core sends no content-type and no bytes) is a record with a null value,
 * as the binding prescribes; a null value is read back as an event without data.
 */
import type { WireMessage } from '@switchyard/core';
import { Attr, fromBindingHeaders, toBindingHeaders } from '@switchyard/core/spi';
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';

export const KAFKA_PREFIX = 'ce_';

export function toKafkaMessage(wire: WireMessage): Message {
  const body = wire.body;
  const noData = body.byteLength === 0 && wire.headers[Attr.contentType] === undefined;
  return {
    key: wire.key ?? null,
    value: noData ? null : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    headers: toBindingHeaders(wire.headers, KAFKA_PREFIX),
  };
}

/** A header's text (the first value of a repeated one). */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  return (Array.isArray(raw) ? raw[0] : raw)?.toString();
}

export function fromKafkaMessage(message: KafkaMessage): WireMessage {
  const raw: Record<string, string> = {};
  for (const name of Object.keys(message.headers ?? {})) {
    const text = headerText(message.headers, name);
    if (text === undefined) continue;
    // The binding names it `content-type`; accept any case from other producers.
    raw[name.toLowerCase() === 'content-type' ? 'content-type' : name] = text;
  }
  const headers = fromBindingHeaders(raw, KAFKA_PREFIX);
  const value = message.value;
  const body = value === null ? new Uint8Array(0) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  const key = message.key === null || message.key === undefined ? undefined : message.key.toString('utf8');
  return key === undefined ? { body, headers } : { body, headers, key };
}
