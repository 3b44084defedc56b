/**
 * The wire translation's shortcuts (cached names, the length bound before measuring bytes) give
 * the same answers as the plain rules they stand in for.
 */
import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { fromBindingHeaders } from '@switchyard/core/spi';
import { AMQPLIB_HEADER_TABLE_BYTES, checkHeaderTable, fromAmqp, headerTableBytes, toAmqp } from '../src/wire.js';

const received = (headers: Record<string, unknown>, properties: Record<string, unknown> = {}): ConsumeMessage =>
  ({ content: Buffer.from('{}'), fields: { redelivered: false }, properties: { headers, ...properties } }) as unknown as ConsumeMessage;

describe('amqp wire translation', () => {
  it('maps both binding prefixes in any case as core does, every time a name comes again', () => {
    const raw = { cloudEvents_id: 'a', 'cloudEvents:type': 't', CLOUDEVENTS_Source: 's', 'cloudevents:Subject': 'x', traceparent: 'tp', 'x-user': 'u', cloudEventsid: 'no' };
    const expected = fromBindingHeaders(fromBindingHeaders(raw, 'cloudEvents_'), 'cloudEvents:');
    for (let round = 0; round < 3; round++) expect(fromAmqp(received(raw), false).wire.headers).toEqual(expected);
    expect(expected).toMatchObject({ 'ce-id': 'a', 'ce-type': 't', 'ce-source': 's', 'ce-subject': 'x', traceparent: 'tp', 'x-user': 'u', cloudEventsid: 'no' });
  });

  it('sends ce- names under cloudEvents_, others as they are, every time', () => {
    for (let round = 0; round < 3; round++) {
      const { options } = toAmqp(
        { body: new Uint8Array(0), headers: { 'ce-id': 'i', 'ce-myext': 'e', traceparent: 'tp', 'content-type': 'application/json' }, key: 'k' },
        { 'x-extra': '1' },
      );
      expect(options.headers).toEqual({ cloudEvents_id: 'i', cloudEvents_myext: 'e', traceparent: 'tp', cloudEvents_partitionkey: 'k', 'x-extra': '1' });
      expect(options.contentType).toBe('application/json');
      expect(options.messageId).toBe('i');
    }
  });

  it('sends a direct reply-to address in reply-to alone, any other reply address also as a header; both read back as ce-replyto', () => {
    const direct = 'amq.rabbitmq.reply-to.g1h2AA5yZXBseQ==.abc';
    const request = (replyTo: string) => toAmqp({ body: new Uint8Array(0), headers: { 'ce-id': 'i', 'ce-replyto': replyTo } }).options;
    const viaProperty = request(direct);
    expect(viaProperty.replyTo).toBe(direct);
    expect(viaProperty.headers).toEqual({ cloudEvents_id: 'i' });
    expect(fromAmqp(received(viaProperty.headers, { replyTo: viaProperty.replyTo }), false).wire.headers['ce-replyto']).toBe(direct);
    const ownQueue = request('plain-client.replies');
    expect(ownQueue.replyTo).toBe('plain-client.replies');
    expect(ownQueue.headers).toEqual({ cloudEvents_id: 'i', cloudEvents_replyto: 'plain-client.replies' });
    expect(fromAmqp(received(ownQueue.headers, { replyTo: ownQueue.replyTo }), false).wire.headers['ce-replyto']).toBe('plain-client.replies');
  });

  it("sets the timestamp property from each message's ce-time (the last one parsed is remembered), and sends a Buffer body as it is", () => {
    const at = (time: string) => toAmqp({ body: new Uint8Array(0), headers: { 'ce-time': time } }).options.timestamp;
    expect(at('2026-11-24T07:16:23.308Z')).toBe(1_795_504_583);
    expect(at('2026-11-24T07:16:23.308Z')).toBe(1_795_504_583);
    expect(at('2026-11-24T07:16:24.001Z')).toBe(1_795_504_584);
    expect(at('not a time')).toBeUndefined();
    expect(at('2026-11-24T07:16:23.308Z')).toBe(1_795_504_583);
    const body = Buffer.from('{"a":1}');
    expect(toAmqp({ body, headers: {} }).content).toBe(body);
    const view = new Uint8Array([1, 2, 3]);
    expect(toAmqp({ body: view, headers: {} }).content).toEqual(Buffer.from([1, 2, 3]));
  });

  it('keeps properties to 255 bytes by their UTF-8 size, not their length', () => {
    const wide = 'é'.repeat(128); // 128 characters, 256 bytes
    const { options } = toAmqp({ body: new Uint8Array(0), headers: { 'ce-id': wide, 'ce-correlationid': 'é'.repeat(127) } });
    expect(options.messageId).toBeUndefined();
    expect(options.correlationId).toBe('é'.repeat(127));
    expect(options.headers).toMatchObject({ cloudEvents_id: wide });
  });

  it('checks the header table exactly wherever the length bound cannot settle it', () => {
    const limit = AMQPLIB_HEADER_TABLE_BYTES;
    const fits = { a: 'x'.repeat(limit - 4 - 7) }; // exactly 64 KiB: 4 (table) + 1 + 1 (name) + 1 + 4 (type, length) + value
    expect(headerTableBytes(fits)).toBe(limit);
    expect(checkHeaderTable(fits)).toBeUndefined();
    expect(checkHeaderTable({ a: 'x'.repeat(limit - 4 - 6) })).toMatch(/65537 bytes/);
    expect(checkHeaderTable({ a: 'é'.repeat(30_000) })).toBeUndefined(); // 60 KB: over the bound, under the limit
    expect(checkHeaderTable({ a: 'é'.repeat(33_000) })).toMatch(/amqplib encodes at most/);
    expect(checkHeaderTable({ ['n'.repeat(256)]: 'v' })).toMatch(/longer than 255 bytes/);
    expect(checkHeaderTable({ ['é'.repeat(127)]: 'v' })).toBeUndefined(); // 254 bytes
    expect(checkHeaderTable({ 'ce-id': 'x', traceparent: 'y' })).toBeUndefined();
  });
});
