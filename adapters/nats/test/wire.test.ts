import { headers, MsgHdrsImpl } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '@switchyard/core';
import { decodeValue, encodeNatsHeaders, encodeValue, fromNats, type HeaderOptions } from '../src/wire.js';

/** What a plain nats.js client reads from the header bytes Switchyard sends. */
const sent = (wire: Parameters<typeof encodeNatsHeaders>[0], options?: HeaderOptions) => MsgHdrsImpl.decode(encodeNatsHeaders(wire, options));

const body = new Uint8Array([1, 2, 3]);

describe('CloudEvents NATS binding', () => {
  it('percent-encodes space, quote, percent and non-printable ASCII, upper-case hex', () => {
    expect(encodeValue('Euro € 😀')).toBe('Euro%20%E2%82%AC%20%F0%9F%98%80');
    expect(encodeValue(' "100%" ')).toBe('%20%22100%25%22%20');
    expect(encodeValue('a/b:c;d=e,f')).toBe('a/b:c;d=e,f');
  });

  it('decodes what it encodes, accepts lower-case and needless escapes, keeps text that is not valid percent-encoding', () => {
    for (const v of ['', ' x ', 'ünï "q" 100%', '\t tab', 'x'.repeat(1000)]) expect(decodeValue(encodeValue(v), true)).toBe(v);
    expect(decodeValue('%e2%82%ac%41', true)).toBe('€A');
    expect(decodeValue('100%', false)).toBe('100%');
    expect(decodeValue('%C0%A0', true)).toBe('%C0%A0'); // overlong UTF-8: not decoded
    expect(decodeValue('"quoted \\"v\\""', true)).toBe('quoted "v"');
  });

  it('maps content-type to ce-datacontenttype and the key to ce-partitionkey, and back', () => {
    const wire = { body, key: 'k 1', headers: { 'ce-id': 'id 1', 'content-type': 'application/json', 'X-Mixed': ' v ' } };
    const h = sent(wire);
    expect(h.get('ce-datacontenttype')).toBe('application/json');
    expect(h.get('ce-partitionkey')).toBe('k%201');
    expect(h.get('X-Mixed')).toBe('%20v%20');
    expect(h.has('content-type')).toBe(false);
    expect(fromNats(body, h)).toEqual(wire);
  });

  it('reads a plain client: any-case ce- names, Content-Type when ce-datacontenttype is missing, Nats-* dropped', () => {
    const h = headers();
    h.set('CE-ID', 'e1');
    h.set('Ce-Type', 'order.placed');
    h.set('Content-Type', 'text/plain');
    h.set('Nats-Msg-Id', 'dedup');
    expect(fromNats(body, h).headers).toEqual({ 'ce-id': 'e1', 'ce-type': 'order.placed', 'content-type': 'text/plain' });
    expect(fromNats(body, undefined)).toEqual({ body, headers: {} });
  });

  it('a header named like a mapped attribute still travels once, the later value winning', () => {
    const h = sent({ body, headers: { 'content-type': 'text/plain', 'ce-datacontenttype': 'application/json', 'ce-id': 'a b' }, key: 'k1' });
    expect(h.values('ce-datacontenttype')).toEqual(['application/json']);
    expect(h.values('ce-partitionkey')).toEqual(['k1']);
    expect(h.values('ce-id')).toEqual(['a%20b']);
  });

  it('refuses headers the NATS server would act on, and names NATS cannot carry', () => {
    expect(() => encodeNatsHeaders({ body, headers: { 'Nats-Msg-Id': 'x' } })).toThrow(ValidationError);
    expect(() => encodeNatsHeaders({ body, headers: { 'nats-rollup': 'all' } })).toThrow(/reserved by the NATS server/);
    for (const name of ['a b', 'a:b', 'ünï', '']) expect(() => encodeNatsHeaders({ body, headers: { [name]: 'v' } })).toThrow(/cannot travel over NATS/);
  });

  it('writes the server headers a send adds, and leaves out the one it omits', () => {
    const wire = { body, headers: { 'ce-id': 'e1', 'ce-replyto': '_INBOX.x', note: 'n' } };
    const h = sent(wire, { server: { 'Nats-Msg-Id': 'm-1' }, omit: 'ce-replyto' });
    expect([...h].map(([name, values]) => [name, values])).toEqual([
      ['ce-id', ['e1']],
      ['note', ['n']],
      ['Nats-Msg-Id', ['m-1']],
    ]);
    expect(fromNats(body, h)).toEqual({ body, headers: { 'ce-id': 'e1', note: 'n' } });
  });

  it('writes a header block a message without headers can still carry', () => {
    expect(Buffer.from(encodeNatsHeaders({ body, headers: {} })).toString()).toBe('NATS/1.0\r\n\r\n');
  });
});
