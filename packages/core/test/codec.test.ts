import { describe, expect, it } from 'vitest';
import { DecodeError, ValidationError, type Message } from '../src/index.js';
import { closeAfterEach, memoryBus, topic, waitFor } from './helpers.js';
import { decodeBody, encodeBody, fromBindingHeaders, toBindingHeaders, wireSize } from '../src/spi-entry.js';
import { decodeMessage, encodeMessage, isoTime, userHeaders } from '../src/codec.js';

describe('CloudEvents binary-mode codec', () => {
  it('labels JSON, text and bytes and decodes them back', () => {
    for (const body of [{ a: [1, 'x'] }, 42, null, true, 'plain text ✓', new Uint8Array([0, 255, 7])]) {
      const encoded = encodeBody(body);
      expect(decodeBody(encoded.bytes, encoded.contentType)).toEqual(body);
    }
    expect(encodeBody({}).contentType).toBe('application/json');
    expect(encodeBody('x').contentType).toBe('text/plain; charset=utf-8');
    expect(encodeBody(new Uint8Array()).contentType).toBe('application/octet-stream');
  });

  it('rejects bodies JSON cannot carry, with a ValidationError', () => {
    expect(() => encodeBody(10n)).toThrow(ValidationError);
    expect(() => encodeBody(() => 1)).toThrow(/cannot be serialized/);
    expect(() => encodeBody({ a: 1 }, 'text/csv')).toThrow(/needs a string or Uint8Array/);
  });

  it('throws DecodeError for bytes that do not match their content type', () => {
    expect(() => decodeBody(new Uint8Array([0xff, 0xfe]), 'application/json')).toThrow(DecodeError);
    expect(() => decodeBody(new TextEncoder().encode('{"a":'), 'application/json')).toThrow(/not valid JSON/);
    expect(() => decodeBody(new Uint8Array([0xc3]), 'text/plain')).toThrow(/UTF-8/);
    expect(decodeBody(new TextEncoder().encode('{"a":1}'), 'application/cloudevents+json')).toEqual({ a: 1 });
  });

  it('puts CloudEvents attributes and user headers on the wire and reads them back', () => {
    const { id, wire } = encodeMessage({
      topic: 'order.placed',
      source: 'orders',
      body: { o: 1 },
      options: { key: 'k', headers: { tenant: 'a' }, correlationId: 'c-1' },
      causationId: 'cause',
    });
    expect(wire.headers).toMatchObject({
      'ce-id': id,
      'ce-type': 'order.placed',
      'ce-source': 'orders',
      'ce-specversion': '1.0',
      'ce-correlationid': 'c-1',
      'ce-causationid': 'cause',
      'content-type': 'application/json',
      tenant: 'a',
    });
    const msg = decodeMessage(wire, 'order.placed', 1);
    expect(msg).toMatchObject({ id, key: 'k', body: { o: 1 }, correlationId: 'c-1', causationId: 'cause', headers: { tenant: 'a' }, attempt: 1 });
    expect(userHeaders({ 'ce-id': 'x', traceparent: 't', 'content-type': 'x', mine: 'y' })).toEqual({ mine: 'y' });
  });

  it("gives a message without ce-id an id from the broker's identity for it, else a fresh one", () => {
    const wire = { body: new TextEncoder().encode('hi'), headers: { 'content-type': 'text/plain' } };
    // Same broker identity (a redelivery): same id. Identical bytes at another position: another id.
    expect(decodeMessage(wire, 't', 1, '0:41').id).toBe(decodeMessage(wire, 't', 2, '0:41').id);
    expect(decodeMessage(wire, 't', 1, '0:41').id).not.toBe(decodeMessage(wire, 't', 1, '0:42').id);
    expect(decodeMessage(wire, 't', 1, '0:41').id).not.toBe(decodeMessage(wire, 'u', 1, '0:41').id);
    expect(decodeMessage(wire, 't', 1, '0:41').id).toMatch(/^sha256-[0-9a-f]{32}$/);
    // No identity from the broker: two identical messages must not collide.
    expect(decodeMessage(wire, 't', 1).id).not.toBe(decodeMessage(wire, 't', 1).id);
    // A ce-id always wins.
    expect(decodeMessage({ ...wire, headers: { ...wire.headers, 'ce-id': 'e-1' } }, 't', 1, '0:41').id).toBe('e-1');
  });

  it('rejects a CloudEvents version other than 1.x as undecodable, naming it; no ce-specversion (a plain client) is fine', () => {
    const body = new TextEncoder().encode('{"a":1}');
    const wire = (headers: Record<string, string>) => ({ body, headers: { 'content-type': 'application/json', ...headers } });
    expect(() => decodeMessage(wire({ 'ce-specversion': '0.3', 'ce-id': 'x' }), 't', 1)).toThrow(DecodeError);
    expect(() => decodeMessage(wire({ 'ce-specversion': '0.3', 'ce-id': 'x' }), 't', 1)).toThrow(/ce-specversion "0\.3"/);
    expect(() => decodeMessage(wire({ 'ce-specversion': '2.0' }), 't', 1)).toThrow(DecodeError);
    expect(() => decodeMessage(wire({ 'ce-specversion': '' }), 't', 1)).toThrow(DecodeError);
    expect(decodeMessage(wire({ 'ce-specversion': '1.0', 'ce-id': 'y' }), 't', 1)).toMatchObject({ id: 'y', body: { a: 1 } });
    expect(decodeMessage(wire({}), 't', 1).body).toEqual({ a: 1 });
  });

  it('writes ce-time as Date#toISOString does, across millisecond, second, day and year boundaries and when the clock goes back', () => {
    const start = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
    const times: number[] = [];
    for (let ms = start; ms < start + 2_100; ms += 7) times.push(ms, ms); // each twice: the same millisecond again
    times.push(
      start + 5,
      Date.UTC(1970, 0, 1),
      Date.UTC(2026, 0, 1, 0, 0, 0, 9),
      Date.UTC(2026, 0, 1, 0, 0, 0, 99),
      Date.UTC(2026, 0, 1, 0, 0, 0, 100),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    );
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('maps the canonical ce- prefix to a binding prefix and back', () => {
    const canonical = { 'ce-id': '1', 'ce-type': 't', 'content-type': 'application/json', user: 'u' };
    const kafka = toBindingHeaders(canonical, 'ce_');
    expect(kafka).toEqual({ ce_id: '1', ce_type: 't', 'content-type': 'application/json', user: 'u' });
    expect(fromBindingHeaders(kafka, 'ce_')).toEqual(canonical);
    expect(fromBindingHeaders({ 'cloudEvents:id': '1', 'cloudEvents:type': 't' }, 'cloudEvents:')).toEqual({ 'ce-id': '1', 'ce-type': 't' });
  });

  it('counts body, key and headers toward the payload size', () => {
    expect(wireSize({ body: new Uint8Array(10), headers: { ab: 'cd' }, key: 'é' })).toBe(10 + 4 + 2);
  });
});

describe('a published body belongs to the message once publish is called', () => {
  const closing = closeAfterEach();

  it('a Buffer the caller reuses while the publish awaits its confirm reaches the handler as it was sent', async () => {
    const bus = closing(await memoryBus());
    const name = topic('bytes-reused');
    const got: Message[] = [];
    await bus.subscribe(name, (m) => {
      got.push(m);
    });
    const reused = Buffer.from([1, 2, 3, 4]);
    const confirmed = bus.publish(name, reused);
    reused.fill(9); // e.g. a pooled buffer the app fills with its next message
    await confirmed;
    const [m] = await waitFor(got, 1);
    expect([...(m!.body as Uint8Array)]).toEqual([1, 2, 3, 4]);
  });
});
