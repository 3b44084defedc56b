/**
 * Issue 8 (core hardening): nothing a user or a foreign producer sends can wedge, loop, leak or
 * silently drop. Each block reproduces a reported failure on the memory transport (through a
 * thin fault-injecting wrapper where a broker refusal is needed).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ClosedError, createBus, type Delivery, type Logger, type Message, type Transport, ValidationError } from '../src/index.js';
import { createMemoryTransport } from '../src/memory/transport.js';
import { busWithout, closeAfterEach, memoryBus, topic, waitFor } from './helpers.js';

const track = closeAfterEach(500);

/** A memory transport and a bus over it, so a test can also publish raw (foreign) wire messages. */
async function rawAndBus(overrides: Partial<Transport> = {}, caps: Record<string, unknown> = {}) {
  const broker = `hard-${Math.random().toString(36).slice(2)}`;
  const inner = await createMemoryTransport(new URL(`memory://${broker}`), { service: 'svc', logger: quiet });
  const properties: PropertyDescriptorMap = { capabilities: { value: { ...inner.capabilities, ...caps } } };
  for (const [name, value] of Object.entries(overrides)) properties[name] = { value };
  const transport = Object.create(inner, properties) as Transport;
  const bus = track(await createBus({ transport, service: 'svc', logger: quiet }));
  return { inner, bus };
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

describe('header and id limits are checked in bytes before anything is sent', () => {
  it('a 100 KB header value is a ValidationError naming the limit; nothing is sent and the bus keeps working', async () => {
    const bus = track(await memoryBus());
    const t = topic('bighdr');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    const err = await bus.publish(t, {}, { headers: { big: 'x'.repeat(100_000) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toMatch(/Header "big" is 100000 bytes; .* at most \d+ bytes/);
    await bus.publish(t, { ok: 1 });
    await waitFor(got, 1);
    expect(got.map((m) => m.body)).toEqual([{ ok: 1 }]);
  });

  it('counts bytes, not characters (multi-byte UTF-8)', async () => {
    const bus = track(await memoryBus());
    const limit = bus.capabilities.maxHeaderValueBytes;
    await expect(bus.publish(topic('utf8'), {}, { headers: { h: '€'.repeat(Math.ceil(limit / 3) + 1) } })).rejects.toThrow(/bytes/);
    await bus.publish(topic('utf8'), {}, { headers: { h: 'a'.repeat(limit) } });
  });

  it('the headers together may not exceed the total header budget', async () => {
    const bus = track(await memoryBus());
    const { maxHeaderValueBytes, maxHeaderBytes } = bus.capabilities;
    const headers: Record<string, string> = {};
    for (let i = 0; i * maxHeaderValueBytes < maxHeaderBytes; i++) headers[`h${i}`] = 'v'.repeat(maxHeaderValueBytes);
    await expect(bus.publish(topic('total'), {}, { headers })).rejects.toThrow(/headers take \d+ bytes .* at most \d+ bytes of headers/);
  });

  it('a 70 KB correlation id, a non-string causation id or a bad id is a ValidationError', async () => {
    const bus = track(await memoryBus());
    const t = topic('ids');
    await expect(bus.publish(t, {}, { correlationId: 'c'.repeat(70_000) })).rejects.toThrow(/correlationId .* at most 256 bytes/);
    await expect(bus.publish(t, {}, { causationId: 42 as unknown as string })).rejects.toBeInstanceOf(ValidationError);
    await expect(bus.publish(t, {}, { correlationId: 'a\nb' })).rejects.toThrow(/line break|control/);
    await expect(bus.publish(t, {}, { id: '€'.repeat(100) })).rejects.toThrow(/id .* at most 256 bytes/);
    await expect(bus.request(t, {}, { correlationId: 'c'.repeat(70_000), timeoutMs: 100 })).rejects.toBeInstanceOf(ValidationError);
  });

  it('line breaks and control characters are refused in header values, content types and keys', async () => {
    const bus = track(await memoryBus());
    const t = topic('crlf');
    for (const value of ['a\rb', 'a\u2028b', 'a\u0085b', 'a\u0007b']) {
      await expect(bus.publish(t, {}, { headers: { h: value } }), JSON.stringify(value)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(bus.publish(t, 'x', { contentType: 'text/plain\r\nx-evil: 1' })).rejects.toBeInstanceOf(ValidationError);
    await expect(bus.publish(t, {}, { key: 'k\n1' })).rejects.toBeInstanceOf(ValidationError);
    await bus.publish(t, {}, { headers: { h: 'tab\tis fine' } });
  });
});

describe('bad options are refused up front with typed errors', () => {
  it('subscribe: schema must be a schema, idempotency.key a function, retry an object or false', async () => {
    const bus = track(await memoryBus());
    const t = topic('opts');
    await expect(bus.subscribe(t, () => undefined, { schema: {} as never })).rejects.toThrow(/schema must be a Standard Schema \(zod 4, valibot, arktype/);
    await expect(bus.subscribe(t, () => undefined, { idempotency: { store: (await import('../src/index.js')).memoryIdempotencyStore(), key: 'id' as never } })).rejects.toThrow(
      /idempotency.key must be a function/,
    );
    await expect(bus.subscribe(t, () => undefined, { retry: true as never })).rejects.toThrow(/retry must be/);
    await expect(bus.subscribe(t, () => undefined, { deadLetter: true as never })).rejects.toThrow(/deadLetter must be/);
    await expect(bus.subscribe(t, () => undefined, { handlerTimeoutMs: -1 })).rejects.toBeInstanceOf(ValidationError);
    await expect(bus.pull(t, { schema: 'nope' as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(bus.reply(t, () => 1, { schema: { parse: 1 } as never })).rejects.toBeInstanceOf(ValidationError);
  });

  it('publish: headers must be a plain object of strings; correlationId/causationId/contentType strings', async () => {
    const bus = track(await memoryBus());
    const t = topic('popts');
    const got: Message[] = [];
    await bus.subscribe(t, (m) => void got.push(m));
    await expect(bus.publish(t, {}, { headers: 'abc' as never })).rejects.toThrow(/headers must be an object/);
    await expect(bus.publish(t, {}, { headers: ['a'] as never })).rejects.toThrow(/headers must be an object/);
    await expect(bus.publish(t, {}, { correlationId: 5 as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(bus.publish(t, 'x', { contentType: 5 as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(bus.publish(t, {}, null as never)).rejects.toBeInstanceOf(ValidationError);
    await bus.publish(t, { last: true });
    await waitFor(got, 1);
    expect(got.map((m) => m.body)).toEqual([{ last: true }]);
  });

  it('request: a signal that is not an AbortSignal is refused before anything is sent (no crash)', async () => {
    const bus = track(await memoryBus());
    const t = topic('signal');
    let calls = 0;
    await bus.reply(t, () => ++calls);
    await expect(bus.request(t, {}, { signal: {} as never, timeoutMs: 200 })).rejects.toThrow(/signal must be an AbortSignal/);
    await expect(bus.request(t, {})).resolves.toBe(1);
    expect(calls).toBe(1);
  });

  it('createBus: a logger must have debug/info/warn/error functions', async () => {
    await expect(createBus({ url: 'memory://', service: 's', logger: {} as never })).rejects.toThrow(/logger must have debug, info, warn and error/);
  });

  it('a logger that throws never crashes the process or stops settlement', async () => {
    const throwing: Logger = {
      debug() {
        throw new Error('debug broke');
      },
      info() {
        throw new Error('info broke');
      },
      warn() {
        throw new Error('warn broke');
      },
      error() {
        throw new Error('error broke');
      },
    };
    const bus = track(await createBus({ url: `memory://throwing-logger-${Math.random()}`, service: 'svc', logger: throwing }));
    const t = topic('throwlog');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    let calls = 0;
    await bus.subscribe(
      t,
      () => {
        calls++;
        throw new Error('handler failed');
      },
      { retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2, factor: 1 } },
    );
    await bus.publish(t, {});
    await waitFor(dead, 1);
    expect(calls).toBe(2);
  });
});

describe('dead-lettering the broker refuses never re-runs the handler', () => {
  for (const nack of ['delayed', 'none'] as const) {
    it(`${nack === 'delayed' ? 'broker nack' : 'in-place retry'}: the handler runs maxAttempts times, the dead-letter publish backs off and lands, later messages flow at concurrency 1`, async () => {
      let refusals = 3;
      const dlqAttempts: number[] = [];
      const { inner, bus } = await rawAndBus(
        {
          async publish(request) {
            if (request.topic.endsWith('.dlq')) {
              dlqAttempts.push(Date.now());
              if (refusals-- > 0) throw new Error('broker refused: message too large');
            }
            return inner.publish(request);
          },
        },
        { nack, delay: nack === 'delayed' ? 'native' : 'emulated', maxNativeDelayMs: nack === 'delayed' ? 86_400_000 : 0 },
      );
      const t = topic('dlqrefused');
      const dead: Message[] = [];
      await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
      let poisonCalls = 0;
      const good: number[] = [];
      await bus.subscribe(
        t,
        (m) => {
          const body = m.body as { poison?: boolean; i?: number };
          if (body.poison) {
            poisonCalls++;
            throw new Error('always fails');
          }
          good.push(body.i!);
        },
        { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5, factor: 2 }, concurrency: 1 },
      );
      await bus.publish(t, { poison: true });
      for (let i = 0; i < 5; i++) await bus.publish(t, { i });
      await waitFor(good, 5);
      await waitFor(dead, 1, 15_000);
      expect(poisonCalls).toBe(3);
      expect(dead).toHaveLength(1);
      expect(dead[0]!.headers['x-switchyard-attempts']).toBe('3');
      expect(dlqAttempts).toHaveLength(4);
      // Backed off: the gaps between refused attempts grow.
      const gaps = dlqAttempts.slice(1).map((at, i) => at - dlqAttempts[i]!);
      expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    }, 20_000);
  }

  it('a redelivery past maxAttempts goes to the dead-letter topic without running the handler', async () => {
    const { inner, bus } = await rawAndBus();
    const t = topic('pastmax');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    let calls = 0;
    // Another consumer of the group exhausted the attempts and crashed before it could dead-letter.
    await inner.declareGroup(t, 'svc');
    const [leftover] = await (async () => {
      await bus.publish(t, { stuck: true });
      for (;;) {
        const deliveries = await inner.pull!(t, 'svc', { max: 1, waitMs: 100 });
        const d = deliveries[0];
        if (d === undefined) continue;
        if (d.deliveryCount < 3) await d.abandon();
        else return [d];
      }
    })();
    await leftover!.abandon(); // 4th delivery next
    await bus.subscribe(
      t,
      () => {
        calls++;
      },
      { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2, factor: 1 } },
    );
    await waitFor(dead, 1);
    expect(calls).toBe(0);
    expect(dead[0]!.headers['x-switchyard-error']).toMatch(/Delivered 4 times; maxAttempts is 3/);
  });
});

describe('the dead-letter copy is built to fit', () => {
  it('error text is cut by bytes on a UTF-8 boundary', async () => {
    const bus = track(await memoryBus());
    const t = topic('longerr');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    await bus.subscribe(
      t,
      () => {
        throw new (class extends Error {})('€'.repeat(5000));
      },
      { retry: false },
    );
    await bus.publish(t, {});
    await waitFor(dead, 1);
    const error = dead[0]!.headers['x-switchyard-error']!;
    expect(Buffer.byteLength(error)).toBeLessThanOrEqual(1024);
    expect(error).not.toContain('\uFFFD');
    expect(error.endsWith('…')).toBe(true);
  });

  it('a foreign message whose headers fill the budget is dead-lettered with the largest headers dropped and named', async () => {
    const { inner, bus } = await rawAndBus();
    const t = topic('foreignfat');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    let calls = 0;
    await bus.subscribe(
      t,
      () => {
        calls++;
      },
      { schema: z.object({ ok: z.literal(true) }) },
    );
    const { maxHeaderBytes } = bus.capabilities;
    // Published by a plain client: core never checked it, and it is right at the broker's limit.
    await inner.publish({
      topic: t,
      message: {
        body: new TextEncoder().encode('{"ok":false}'),
        headers: { 'content-type': 'application/json', small: 'kept', huge: 'h'.repeat(maxHeaderBytes - 100) },
      },
    });
    await waitFor(dead, 1);
    expect(calls).toBe(0);
    const d = dead[0]!;
    expect(d.headers['small']).toBe('kept');
    expect(d.headers['huge']).toBeUndefined();
    expect(d.headers['x-switchyard-dropped-headers']).toBe('huge');
    expect(d.headers['x-switchyard-error']).toMatch(/schema/);
  });
});

describe('handlerTimeoutMs', () => {
  it('aborts ctx.signal, counts as a retryable failure, and frees the slot for the messages behind', async () => {
    const bus = track(await memoryBus());
    const t = topic('hung');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    const aborted: number[] = [];
    const good: number[] = [];
    await bus.subscribe(
      t,
      (m, ctx) => {
        const body = m.body as { hang?: boolean; i?: number };
        if (!body.hang) {
          good.push(body.i!);
          return;
        }
        ctx.signal.addEventListener('abort', () => aborted.push(m.attempt));
        return new Promise(() => {}); // hangs for ever, ignoring the signal
      },
      { handlerTimeoutMs: 50, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2, factor: 1 }, concurrency: 1 },
    );
    await bus.publish(t, { hang: true });
    for (let i = 0; i < 3; i++) await bus.publish(t, { i });
    await waitFor(good, 3);
    await waitFor(dead, 1);
    expect(aborted).toEqual([1, 2]);
    expect(dead[0]!.headers['x-switchyard-error']).toMatch(/did not finish within 50 ms \(handlerTimeoutMs\)/);
  });

  it('on reply handlers the requester gets RemoteHandlerError instead of waiting for its own timeout', async () => {
    const bus = track(await memoryBus());
    const t = topic('hungreply');
    await bus.reply(t, () => new Promise(() => {}), { handlerTimeoutMs: 50 });
    await expect(bus.request(t, {}, { timeoutMs: 5000 })).rejects.toThrow(/did not finish within 50 ms/);
  });
});

describe('emulated delay', () => {
  it('a delay longer than the short hold is republished for the group and the original settled; the messages behind it flow meanwhile', async () => {
    const sent: { topic: string; headers: Readonly<Record<string, string>> }[] = [];
    const { inner, bus } = await rawAndBus(
      {
        async publish(request) {
          sent.push({ topic: request.topic, headers: request.message.headers });
          return inner.publish(request);
        },
      },
      { delay: 'emulated' },
    );
    const t = topic('longdelay');
    const seen: string[] = [];
    const sub = await bus.subscribe(t, (m) => void seen.push((m.body as { n: string }).n), { concurrency: 1 });
    const { id } = await bus.publish(t, { n: 'later' }, { delayMs: 600_000 });
    for (let i = 0; i < 3; i++) await bus.publish(t, { n: `now-${i}` });
    await waitFor(seen, 3);
    const republished = sent.filter((s) => s.headers['x-switchyard-for-group'] === 'svc');
    await waitFor(republished, 0);
    const copies = () => sent.filter((s) => s.topic === t && s.headers['x-switchyard-for-group'] === 'svc');
    await expect.poll(() => copies().length, { timeout: 12_000, interval: 100 }).toBeGreaterThanOrEqual(1);
    const copy = copies()[0]!;
    expect(copy.headers['ce-id']).toBe(id);
    expect(Date.parse(copy.headers['ce-notbefore']!)).toBeGreaterThan(Date.now() + 500_000);
    await sub.close();
    expect(seen).toEqual(['now-0', 'now-1', 'now-2']);
  }, 20_000);

  it('a copy republished for another group is settled without running the handler', async () => {
    const { inner, bus } = await rawAndBus();
    const t = topic('forgroup');
    const seen: string[] = [];
    await bus.subscribe(t, (m) => void seen.push((m.body as { n: string }).n));
    await inner.publish({
      topic: t,
      message: { body: new TextEncoder().encode('{"n":"other"}'), headers: { 'content-type': 'application/json', 'x-switchyard-for-group': 'someone-else' } },
    });
    await bus.publish(t, { n: 'mine' });
    await waitFor(seen, 1);
    const health = await bus.health();
    expect(seen).toEqual(['mine']);
    expect(health.details['depth']).toBe(0);
  });
});

describe('a custom transport failing to connect', () => {
  it('its error reaches the caller without the password and without the raw error as cause', async () => {
    const { registerTransport } = await import('../src/index.js');
    registerTransport('leaky', () => ({
      ...({} as Transport),
      name: 'leaky',
      capabilities: {} as Transport['capabilities'],
      connect: async () => {
        throw new Error('auth failed for leaky://bob:hunter2-pw@h:1');
      },
      close: async () => undefined,
    }));
    const err = await createBus({ url: 'leaky://bob:hunter2-pw@h:1', service: 's' }).catch((e: unknown) => e);
    const { inspect } = await import('node:util');
    expect(inspect(err, { depth: 10 })).not.toContain('hunter2-pw');
    expect((err as Error).message).toMatch(/Cannot connect to leaky:\/\/bob:\*\*\*@h:1/);
  });
});

describe('a foreign message too large to dead-letter', () => {
  it('is dead-lettered without its body (size recorded) instead of being retried for ever', async () => {
    const { inner, bus } = await rawAndBus();
    const t = topic('foreignhuge');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    const size = bus.capabilities.maxPayloadBytes + 10_000;
    const body = new Uint8Array(size).fill(0x7b); // "{{{{…": not JSON
    await bus.subscribe(t, () => undefined);
    await inner.publish({ topic: t, message: { body, headers: { 'content-type': 'application/json', 'ce-id': 'huge-1', tenant: 'acme' } } });
    await waitFor(dead, 1);
    const d = dead[0]!;
    expect(d.id).toBe('huge-1');
    expect(d.body).toEqual(new Uint8Array(0));
    expect(d.headers['x-switchyard-body-omitted']).toBe(String(size));
    expect(d.headers['x-switchyard-original-content-type']).toBe('application/json');
    expect(d.headers['tenant']).toBe('acme');
  });
});

describe('createBus validates everything it is given', () => {
  it('a contract that is not an object of schemas, or a transport missing SPI methods, is a ValidationError', async () => {
    await expect(createBus({ url: 'memory://', service: 's', contract: 'orders' as never })).rejects.toThrow(/contract must be an object/);
    await expect(createBus({ url: 'memory://', service: 's', contract: { 'a.b': {} } as never })).rejects.toThrow(/must be a Standard Schema/);
    await expect(createBus({ service: 's', transport: { name: 'x' } as never })).rejects.toThrow(/transport must implement the Transport SPI/);
  });
});

describe('dead-letter copies the broker refuses for what they are', () => {
  it('a foreign key past the portable limit is left out of the copy and named', async () => {
    const { inner, bus } = await rawAndBus();
    const t = topic('fatkey');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    await bus.subscribe(t, () => undefined);
    await inner.publish({
      topic: t,
      message: { body: new TextEncoder().encode('{bad'), key: 'k'.repeat(30_000), headers: { 'content-type': 'application/json', 'ce-id': 'fk-1', tenant: 'acme' } },
    });
    await waitFor(dead, 1);
    expect(dead[0]!.key).toBeUndefined();
    expect(dead[0]!.id).toBe('fk-1');
    expect(dead[0]!.headers['tenant']).toBe('acme');
    expect(dead[0]!.headers['x-switchyard-dropped-headers']).toBe('(key)');
  });

  it('after a ValidationError or PayloadTooLargeError from the transport, the minimal copy is sent instead of retrying the same one', async () => {
    const refused: number[] = [];
    const { inner, bus } = await rawAndBus({
      async publish(request) {
        if (request.topic.endsWith('.dlq') && request.message.body.byteLength > 0) {
          refused.push(request.message.body.byteLength);
          const { ValidationError: V } = await import('../src/index.js');
          throw new V('header table too large for this broker');
        }
        return inner.publish(request);
      },
    });
    const t = topic('minimal');
    const dead: Message[] = [];
    await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
    await bus.subscribe(
      t,
      () => {
        throw new Error('nope');
      },
      { retry: false },
    );
    const { id } = await bus.publish(t, { big: 'x'.repeat(100) }, { headers: { tenant: 'acme' }, key: 'k1' });
    await waitFor(dead, 1);
    expect(refused).toHaveLength(1);
    const d = dead[0]!;
    expect(d.id).toBe(id);
    expect(d.body).toEqual(new Uint8Array(0));
    expect(d.key).toBeUndefined();
    expect(d.headers['tenant']).toBeUndefined();
    expect(Number(d.headers['x-switchyard-body-omitted'])).toBeGreaterThan(100);
    expect(d.headers['x-switchyard-error']).toBe('nope');
    expect(d.headers['x-switchyard-attempts']).toBe('1');
  });
});

describe('checkPublish (spi): bus.publish’s own checks for code that sends later', () => {
  it('refuses what bus.publish refuses, with the same error, before anything is stored', async () => {
    const { checkPublish } = await import('../src/spi-entry.js');
    const bus = track(await memoryBus());
    const cases: [string, unknown, unknown][] = [
      ['bad topic', {}, {}],
      ['t.ok', {}, { headers: { big: 'x'.repeat(100_000) } }],
      ['t.ok', {}, { correlationId: 'c'.repeat(300) }],
      ['t.ok', {}, { delayMs: -1 }],
      ['t.ok', {}, { nope: 1 }],
    ];
    for (const [t, body, options] of cases) {
      const viaBus = await bus.publish(t, body, options as never).catch((e: unknown) => e as Error);
      let viaCheck: Error | undefined;
      try {
        checkPublish(t, body, options);
      } catch (err) {
        viaCheck = err as Error;
      }
      expect(viaCheck, `${t} ${JSON.stringify(options).slice(0, 40)}`).toBeInstanceOf(ValidationError);
      expect(viaBus).toBeInstanceOf(ValidationError);
      expect(viaCheck!.message.split(' on ')[0]).toBe((viaBus as Error).message.split(' on ')[0]);
    }
    expect(() => checkPublish('t.ok', { fine: true }, { key: 'k' })).not.toThrow();
  });
});

describe('redeliveries counted by core where the broker keeps no count', () => {
  it('a message abandoned by a closing subscription comes back to the bus with attempt 2 (keyed by brokerId)', async () => {
    // Like Kafka: every delivery says 1; only brokerId tells it is the same message again.
    const bus = track(
      await busWithout({ deliveryCount: 'absent' }, undefined, {
        consume(this: Transport, t, group, options, onDelivery) {
          return Object.getPrototypeOf(this).consume.call(this, t, group, options, (d: Delivery) => onDelivery(countless(d)));
        },
      }),
    );
    const t = topic('owncount');
    const first: number[] = [];
    const sub = await bus.subscribe(t, (m, ctx) => {
      first.push(m.attempt);
      return new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    });
    await bus.publish(t, {});
    await waitFor(first, 1);
    await sub.close({ drainTimeoutMs: 20 }); // abandoned, as a crash would
    const second: number[] = [];
    await bus.subscribe(t, (m) => void second.push(m.attempt));
    await waitFor(second, 1);
    expect(first).toEqual([1]);
    expect(second).toEqual([2]);
  });
});

describe('close past the drain timeout', () => {
  it('hands every in-flight message back even when abandon takes a broker round trip and the handlers return on the abort', async () => {
    const acked: number[] = [];
    const abandoned: number[] = [];
    // Like Pub/Sub: abandon is one RPC (modifyAckDeadline 0), so it resolves a while later.
    const bus = track(
      await busWithout({}, undefined, {
        consume(this: Transport, t, group, options, onDelivery) {
          return Object.getPrototypeOf(this).consume.call(this, t, group, options, (d: Delivery) => {
            const i = (JSON.parse(new TextDecoder().decode(d.message.body)) as { i: number }).i;
            onDelivery({
              ...d,
              ack: () => {
                acked.push(i);
                return d.ack();
              },
              abandon: async () => {
                abandoned.push(i);
                await new Promise((resolve) => setTimeout(resolve, 20));
                await d.abandon();
              },
            });
          });
        },
      }),
    );
    const t = topic('slowabandon');
    const started: number[] = [];
    const sub = await bus.subscribe(
      t,
      (m, ctx) => {
        started.push((m.body as { i: number }).i);
        return new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 3; i++) await bus.publish(t, { i });
    await waitFor(started, 3);
    await sub.close({ drainTimeoutMs: 20 });
    expect(acked).toEqual([]);
    expect(abandoned.sort()).toEqual([0, 1, 2]);
  });
});

describe('pull over push, for transports without native pull', () => {
  it('pull, ack and nack work through a buffering consumer; what it buffered goes back to the group on close', async () => {
    const broker = `bridge-${process.pid}`;
    const bus = await busWithout({}, broker, { pull: undefined });
    const t = topic('bridge');
    await bus.pull(t, { waitMs: 0 }); // starts the group's buffering consumer
    for (let i = 0; i < 3; i++) await bus.publish(t, { i });
    const first = await bus.pull(t, { max: 1, waitMs: 2000 });
    expect(first.map((m) => m.body)).toEqual([{ i: 0 }]);
    await first[0]!.nack();
    const seen: { i: number; attempt: number }[] = [];
    for (let round = 0; round < 20 && seen.length < 2; round++) {
      for (const m of await bus.pull(t, { max: 2, waitMs: 500 })) {
        seen.push({ i: (m.body as { i: number }).i, attempt: m.attempt });
        await m.ack();
      }
    }
    expect(seen.length).toBe(2);
    await bus.close(); // the third message sits in the buffer, never handed out
    const other = track(await busWithout({}, broker));
    const rest = await other.pull(t, { max: 10, waitMs: 2000 });
    const all = [...seen, ...rest.map((m) => ({ i: (m.body as { i: number }).i, attempt: m.attempt }))];
    expect(all.map((s) => s.i).sort()).toEqual([0, 1, 2]);
    expect(all.find((s) => s.i === 0)!.attempt).toBe(2);
  });
});

/** The same delivery, reporting 1 delivery as a broker without a count does (its settle methods stay its own). */
function countless(d: Delivery): Delivery {
  return Object.assign(Object.create(d) as Delivery, { deliveryCount: 1 });
}

describe('close() lets the publishes under way finish', () => {
  it('waits for every unconfirmed publish, then refuses new ones with ClosedError', async () => {
    let confirm!: () => void;
    const confirmed = new Promise<void>((resolve) => (confirm = resolve));
    const events: string[] = [];
    const bus = await busWithout({}, undefined, {
      publish: async () => {
        await confirmed;
        events.push('confirmed');
      },
    });
    const t = topic('close-waits');
    const publishes = [bus.publish(t, 1), bus.publish(t, 2)];
    const closed = bus.close().then(() => events.push('closed'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([]);
    confirm();
    await closed;
    await Promise.all(publishes);
    expect(events).toEqual(['confirmed', 'confirmed', 'closed']);
    await expect(bus.publish(t, 3)).rejects.toBeInstanceOf(ClosedError);
  });
});
