/** CloudEvents fidelity on memory://: time forms, structured mode, attributes and extensions, events without data. */
import { afterEach, describe, expect, it } from 'vitest';
import { createBus, DEFAULT_RETRY, ValidationError, type Bus, type Logger, type Message, type Transport } from '../src/index.js';
import { silentLogger } from '../src/index.js';
import { createMemoryTransport } from '../src/memory/transport.js';
import { topic, waitFor } from './helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let counter = 0;
interface Warning {
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

async function busAndPlainClient(): Promise<{ bus: Bus; plain: Transport; warnings: Warning[] }> {
  const broker = `ce-${process.pid}-${++counter}`;
  const warnings: Warning[] = [];
  const logger: Logger = { ...silentLogger, warn: (message, fields) => void warnings.push({ message, fields }) };
  const bus = await createBus({ url: `memory://${broker}`, service: 'svc', logger });
  const plain = await createMemoryTransport(new URL(`memory://${broker}`), { service: 'plain', logger: silentLogger });
  cleanups.push(
    () => bus.close(),
    () => plain.close(),
  );
  return { bus, plain, warnings };
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const binaryHeaders = (extra: Record<string, string>) => ({ 'ce-specversion': '1.0', 'ce-id': 'e-1', 'ce-source': '/plain', 'ce-type': 'com.example.thing', ...extra });

describe('ce-time', () => {
  it('reads RFC 3339 strings and epoch milliseconds', async () => {
    const { bus, plain } = await busAndPlainClient();
    const t = topic('time');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    await plain.publish({
      topic: t,
      message: { body: json(1), headers: binaryHeaders({ 'ce-id': 'a', 'ce-time': '2024-03-01T10:20:30.123+01:00', 'content-type': 'application/json' }) },
    });
    await plain.publish({ topic: t, message: { body: json(2), headers: binaryHeaders({ 'ce-id': 'b', 'ce-time': '1700000000123', 'content-type': 'application/json' }) } });
    await waitFor(got, 2);
    const byId = Object.fromEntries(got.map((m) => [m.id, m]));
    expect(byId['a']!.timestamp.toISOString()).toBe('2024-03-01T09:20:30.123Z');
    expect(byId['a']!.cloudEvent?.time).toBe('2024-03-01T10:20:30.123+01:00');
    expect(byId['b']!.timestamp.getTime()).toBe(1_700_000_000_123);
  });

  it('an unreadable time keeps the message, uses the receive time and warns once per topic', async () => {
    const { bus, plain, warnings } = await busAndPlainClient();
    const t = topic('badtime');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    const before = Date.now();
    for (const id of ['x', 'y']) {
      await plain.publish({
        topic: t,
        message: { body: json(id), headers: binaryHeaders({ 'ce-id': id, 'ce-time': 'Tue, 01 Jan 2030 00:00:00 GMT', 'content-type': 'application/json' }) },
      });
    }
    await waitFor(got, 2);
    for (const m of got) {
      expect(m.timestamp.getTime()).toBeGreaterThanOrEqual(before);
      expect(m.cloudEvent?.time).toBeUndefined();
    }
    const timeWarnings = warnings.filter((w) => w.message.includes('ce-time'));
    expect(timeWarnings).toHaveLength(1);
    expect(timeWarnings[0]!.fields).toMatchObject({ topic: t, time: 'Tue, 01 Jan 2030 00:00:00 GMT' });
  });
});

describe('structured mode (application/cloudevents+json)', () => {
  it('hands the handler the data as body and the envelope as attributes', async () => {
    const { bus, plain } = await busAndPlainClient();
    const t = topic('structured');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    const event = {
      specversion: '1.0',
      id: 'evt-42',
      source: 'https://example.com/orders',
      type: 'com.example.order.placed',
      subject: 'o-1',
      time: '2024-05-06T07:08:09Z',
      dataschema: 'https://example.com/schemas/order.json',
      datacontenttype: 'application/json',
      correlationid: 'corr-7',
      tenant: 'acme',
      priority: 3,
      urgent: true,
      data: { orderId: 'o-1' },
    };
    await plain.publish({ topic: t, message: { body: json(event), headers: { 'content-type': 'application/cloudevents+json; charset=utf-8', tenant: 'user-header' } } });
    const [m] = await waitFor(got, 1);
    expect(m!.id).toBe('evt-42');
    expect(m!.body).toEqual({ orderId: 'o-1' });
    expect(m!.contentType).toBe('application/json');
    expect(m!.correlationId).toBe('corr-7');
    expect(m!.timestamp.toISOString()).toBe('2024-05-06T07:08:09.000Z');
    expect(m!.headers).toEqual({ tenant: 'user-header' });
    expect(m!.cloudEvent).toEqual({
      specversion: '1.0',
      source: 'https://example.com/orders',
      type: 'com.example.order.placed',
      subject: 'o-1',
      time: '2024-05-06T07:08:09Z',
      dataschema: 'https://example.com/schemas/order.json',
      datacontenttype: 'application/json',
      extensions: { tenant: 'acme', priority: '3', urgent: 'true' },
    });
  });

  it('reads data_base64 as bytes, text data as text, and an event without data as undefined', async () => {
    const { bus, plain } = await busAndPlainClient();
    const t = topic('structured-forms');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    const base = { specversion: '1.0', source: '/s', type: 'x' };
    const send = (event: object) => plain.publish({ topic: t, message: { body: json(event), headers: { 'content-type': 'application/cloudevents+json' } } });
    await send({ ...base, id: 'bin', datacontenttype: 'application/octet-stream', data_base64: Buffer.from([0, 1, 255]).toString('base64') });
    await send({ ...base, id: 'text', datacontenttype: 'text/plain', data: 'héllo' });
    await send({ ...base, id: 'nodata' });
    await send({ ...base, id: 'implied-json', data: [1, 2] });
    await waitFor(got, 4);
    const byId = Object.fromEntries(got.map((m) => [m.id, m]));
    expect(byId['bin']!.body).toEqual(new Uint8Array([0, 1, 255]));
    expect(byId['text']!.body).toBe('héllo');
    expect(byId['nodata']!.body).toBeUndefined();
    expect(byId['nodata']!.cloudEvent?.datacontenttype).toBeUndefined();
    expect(byId['implied-json']!.body).toEqual([1, 2]);
    expect(byId['implied-json']!.contentType).toBe('application/json');
  });

  it('a Switchyard publish labelled application/cloudevents+json whose body is not a CloudEvent stays binary mode', async () => {
    const { bus } = await busAndPlainClient();
    const t = topic('structured-label');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    const { id } = await bus.publish(t, { cloud: 'event' }, { contentType: 'application/cloudevents+json' });
    const [m] = await waitFor(got, 1);
    expect(m!.id).toBe(id);
    expect(m!.body).toEqual({ cloud: 'event' });
    expect(m!.contentType).toBe('application/cloudevents+json');
  });

  it('a structured body that is not a CloudEvent is dead-lettered at once', async () => {
    const { bus, plain } = await busAndPlainClient();
    const t = topic('structured-bad');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    let calls = 0;
    await bus.subscribe(t, () => void calls++);
    await plain.publish({ topic: t, message: { body: json({ id: 'no-source' }), headers: { 'content-type': 'application/cloudevents+json' } } });
    await waitFor(dead, 1);
    expect(calls).toBe(0);
    expect(dead[0]!.headers['x-switchyard-error']).toMatch(/no "specversion"/);
  });
});

describe('attributes and extensions on publish', () => {
  it('subject, dataschema and extensions reach the handler, and survive dead-lettering', async () => {
    const { bus } = await busAndPlainClient();
    const t = topic('ext');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    const got: Message[] = [];
    await bus.subscribe(
      t,
      (m) => {
        got.push(m);
        throw new Error('to the DLQ');
      },
      { retry: false },
    );
    await bus.publish(t, { a: 1 }, { subject: 'o-1', dataschema: 'https://example.com/s.json', extensions: { tenant: 'acme', priority: 3, urgent: false } });
    await waitFor(dead, 1);
    for (const m of [got[0]!, dead[0]!]) {
      expect(m.cloudEvent).toMatchObject({
        specversion: '1.0',
        source: 'svc',
        type: t,
        subject: 'o-1',
        dataschema: 'https://example.com/s.json',
        datacontenttype: 'application/json',
        extensions: { tenant: 'acme', priority: '3', urgent: 'false' },
      });
      expect(m.headers['tenant']).toBeUndefined();
    }
    expect(got[0]!.cloudEvent?.time).toBe(got[0]!.timestamp.toISOString());
  });

  it('refuses bad extension names, reserved names and values CloudEvents cannot type, sending nothing', async () => {
    const { bus } = await busAndPlainClient();
    const t = topic('ext-bad');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    const attempt = (options: object) => bus.publish(t, 1, options);
    await expect(attempt({ extensions: { Tenant: 'x' } })).rejects.toThrow(/lower-case letters or digits/);
    await expect(attempt({ extensions: { 'tenant-id': 'x' } })).rejects.toThrow(ValidationError);
    await expect(attempt({ extensions: { abcdefghijklmnopqrstu: 'x' } })).rejects.toThrow(/1-20/);
    await expect(attempt({ extensions: { subject: 'x' } })).rejects.toThrow(/core attribute/);
    await expect(attempt({ extensions: { correlationid: 'x' } })).rejects.toThrow(/reserved/);
    await expect(attempt({ extensions: { traceparent: 'x' } })).rejects.toThrow(/reserved/);
    await expect(attempt({ extensions: { n: 1.5 } })).rejects.toThrow(/32-bit integer/);
    await expect(attempt({ extensions: { n: 2 ** 31 } })).rejects.toThrow(/32-bit integer/);
    await expect(attempt({ extensions: { n: { nested: true } } })).rejects.toThrow(/string, a boolean/);
    await expect(attempt({ extensions: { line: 'a\nb' } })).rejects.toThrow(/control character/);
    await expect(attempt({ extensions: 'tenant=acme' })).rejects.toThrow(/extensions must be an object/);
    await expect(attempt({ subject: '' })).rejects.toThrow(/subject must be a non-empty string/);
    await expect(attempt({ dataschema: 'not a uri' })).rejects.toThrow(/absolute URI/);
    await bus.publish(t, 'sentinel');
    await waitFor(got, 1);
    expect(got.map((m) => m.body)).toEqual(['sentinel']);
  });
});

describe('events without data', () => {
  it('an undefined body travels with no datacontenttype and no bytes, and arrives as undefined', async () => {
    const { bus, plain } = await busAndPlainClient();
    const t = topic('nodata');
    const raw: { body: Uint8Array; headers: Record<string, string> }[] = [];
    const consumer = await plain.consume(
      t,
      'raw',
      { prefetch: 1, policy: { maxAttempts: 1, retry: { ...DEFAULT_RETRY, maxAttempts: 1 }, deadLetterTopic: false, concurrency: 1, ephemeral: true } },
      (d) => {
        raw.push({ body: d.message.body, headers: { ...d.message.headers } });
        void d.ack();
      },
    );
    cleanups.push(() => consumer.close());
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    await bus.publish(t, undefined);
    await waitFor(got, 1);
    await waitFor(raw, 1);
    expect(raw[0]!.body.byteLength).toBe(0);
    expect(raw[0]!.headers['content-type']).toBeUndefined();
    expect(got[0]!.body).toBeUndefined();
    expect(got[0]!.cloudEvent?.datacontenttype).toBeUndefined();
  });
});
