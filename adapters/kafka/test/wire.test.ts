/**
 * The record mapping, pure (no broker): one pass over the headers must give what core's binding
 * helpers give, for Switchyard's own names and for foreign producers' spellings.
 */
import { describe, expect, it } from 'vitest';
import { fromBindingHeaders, toBindingHeaders } from '@switchyard/core/spi';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { fromKafkaMessage, KAFKA_PREFIX, toKafkaMessage } from '../src/wire.js';

const body = new TextEncoder().encode('{"a":1}');

/** A record as kafkajs hands it out from a record batch (headers always present, no size). */
function record(headers: IHeaders, key: Buffer | null = null): KafkaMessage {
  return { key, value: Buffer.from(body), headers, offset: '0', timestamp: '0', attributes: 0 };
}

describe('kafka wire mapping', () => {
  it('sends ce- attributes as ce_ headers, other headers as they are, and extra headers after them', () => {
    const headers = { 'ce-id': 'i-1', 'ce-type': 'orders.created', 'content-type': 'application/json', 'x-trace': 't' };
    const message = toKafkaMessage({ body, headers, key: 'k-1' }, { 'x-switchyard-inbox': 'switchyard.reply.a.b' });
    expect(message.headers).toEqual({ ...toBindingHeaders(headers, KAFKA_PREFIX), 'x-switchyard-inbox': 'switchyard.reply.a.b' });
    expect(message.key).toBe('k-1');
    expect(Buffer.from(message.value as Buffer).toString()).toBe('{"a":1}');
  });

  it('an event without data is a record with a null value', () => {
    expect(toKafkaMessage({ body: new Uint8Array(0), headers: { 'ce-id': 'i' } }).value).toBeNull();
    expect(fromKafkaMessage({ ...record({}), value: null }).body.byteLength).toBe(0);
  });

  it('reads headers in any case as core binding helpers do, the first value of a repeated one, and skips null values', () => {
    const headers = {
      ce_id: Buffer.from('i-2'),
      CE_Type: Buffer.from('orders.shipped'),
      Ce_SpecVersion: '1.0',
      'Content-Type': Buffer.from('application/json'),
      ce_correlationid: [Buffer.from('c-1'), Buffer.from('c-2')],
      'X-Custom': Buffer.from('kept as is'),
      'x-empty': [],
    };
    const wire = fromKafkaMessage(record({ ...headers, ce_nothing: null as unknown as Buffer }, Buffer.from('k-2')));
    const expected = fromBindingHeaders(
      { ce_id: 'i-2', CE_Type: 'orders.shipped', Ce_SpecVersion: '1.0', 'content-type': 'application/json', ce_correlationid: 'c-1', 'X-Custom': 'kept as is' },
      KAFKA_PREFIX,
    );
    expect(wire.headers).toEqual(expected);
    expect(wire.headers).toEqual({
      'ce-id': 'i-2',
      'ce-type': 'orders.shipped',
      'ce-specversion': '1.0',
      'content-type': 'application/json',
      'ce-correlationid': 'c-1',
      'X-Custom': 'kept as is',
    });
    expect(wire.key).toBe('k-2');
    expect(new TextDecoder().decode(wire.body)).toBe('{"a":1}');
  });

  it('maps the same name the same way on every message (names are translated once and reused)', () => {
    for (let n = 0; n < 3; n++) {
      const wire = fromKafkaMessage(record({ CE_ID: Buffer.from(`i-${n}`), ce_source: Buffer.from('s') }));
      expect(wire.headers).toEqual({ 'ce-id': `i-${n}`, 'ce-source': 's' });
    }
  });
});
