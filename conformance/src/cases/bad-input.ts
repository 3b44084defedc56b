import { inspect } from 'node:util';
import { z } from 'zod';
import { ConfigurationError, createBus, memoryIdempotencyStore, PayloadTooLargeError, silentLogger, ValidationError, type Message } from '@switchyard/core';
import type { ConformanceCase } from '../case.js';
import { Collector } from '../harness.js';

export const badInputCases: ConformanceCase[] = [
  {
    id: 'bad-input.topic-names',
    title: 'non-portable topic and group names are ValidationErrors and nothing is sent',
    async run(h, expect) {
      const bus = await h.bus();
      for (const bad of ['', 'has space', 'slash/topic', '.leading-dot', 'x'.repeat(201), 'ünïcode', 'a*b', 'star>']) {
        const err = await bus.publish(bad, {}).catch((e: unknown) => e);
        expect(err, bad).toBeInstanceOf(ValidationError);
        expect((err as Error).message).toMatch(/letters, digits/);
      }
      await expect(bus.subscribe('bad topic', () => undefined)).rejects.toBeInstanceOf(ValidationError);
      await expect(bus.subscribe(h.topic('ok'), () => undefined, { group: 'bad group' })).rejects.toBeInstanceOf(ValidationError);
    },
  },
  {
    id: 'bad-input.payload-too-large',
    title: 'a payload over the transport limit is PayloadTooLargeError and nothing is sent',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('big');
      const got = new Collector<Message>();
      await bus.subscribe(topic, (m) => got.push(m));
      const limit = bus.capabilities.maxPayloadBytes;
      const err = await bus.publish(topic, new Uint8Array(limit + 1)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PayloadTooLargeError);
      expect((err as PayloadTooLargeError).limitBytes).toBe(limit);
      expect((err as Error).message).toContain(String(limit));
      await bus.publish(topic, { small: true });
      await got.waitFor(1);
      expect(got.items.map((m) => m.body)).toEqual([{ small: true }]);
    },
  },
  {
    id: 'bad-input.options',
    title: 'unknown options, bad retry settings and bad headers are ValidationErrors',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('opts');
      await expect(bus.subscribe(topic, () => undefined, { concurency: 2 } as never)).rejects.toThrow(/Unknown subscribe option "concurency"/);
      await expect(bus.subscribe(topic, () => undefined, { retry: { maxAttempts: 0 } })).rejects.toBeInstanceOf(ValidationError);
      await expect(bus.subscribe(topic, () => undefined, { retry: { initialDelayMs: -5 } })).rejects.toBeInstanceOf(ValidationError);
      await expect(bus.subscribe(topic, () => undefined, { concurrency: 0 })).rejects.toBeInstanceOf(ValidationError);
      await expect(bus.publish(topic, {}, { delay: 5 } as never)).rejects.toThrow(/Unknown publish option "delay"/);
      await expect(bus.publish(topic, {}, { headers: { 'ce-id': 'x' } })).rejects.toBeInstanceOf(ValidationError);
      await expect(bus.publish(topic, {}, { headers: { n: 5 as unknown as string } })).rejects.toBeInstanceOf(ValidationError);
      await expect(bus.publish(topic, { n: 1n })).rejects.toBeInstanceOf(ValidationError);
    },
  },
  {
    id: 'bad-input.contract',
    title: 'a body that fails the contract schema is rejected on publish and nothing is sent',
    notApplicable: (_caps, options) =>
      options.url === undefined
        ? { reason: 'suite was given createBus, not a URL: the contract is the caller’s', check: (expect) => expect(options.createBus).toBeDefined() }
        : undefined,
    async run(h, expect) {
      const topic = h.topic('contract');
      const contract = { [topic]: z.object({ orderId: z.string() }) };
      const bus = await createBus({ url: h.options.url!, service: `c-${h.run}`, contract, logger: silentLogger });
      try {
        const got = new Collector<Message>();
        await bus.subscribe(topic, (m) => got.push(m));
        const err = await bus.publish(topic, { orderId: 7 } as never).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).issues.join()).toMatch(/orderId/);
        await bus.publish(topic, { orderId: 'o-1' });
        await got.waitFor(1);
        expect(got.items.map((m) => m.body)).toEqual([{ orderId: 'o-1' }]);
      } finally {
        await bus.close();
      }
    },
  },
  {
    id: 'bad-input.urls',
    title: 'bad URLs, unknown schemes and unknown URL options fail fast with ConfigurationError, never showing credentials',
    async run(h, expect) {
      await expect(createBus({ url: 'not a url', service: 's' })).rejects.toBeInstanceOf(ConfigurationError);
      await expect(createBus({ url: 'carrier-pigeon://x', service: 's' })).rejects.toThrow(/Unknown URL scheme "carrier-pigeon:\/\/"/);
      if (h.options.url !== undefined) {
        const url = new URL(h.options.url);
        url.searchParams.set('definitelyNotAnOption', '1');
        await expect(createBus({ url: url.toString(), service: 's' })).rejects.toThrow(/Unknown .*option.*definitelyNotAnOption/);
        const withSecret = new URL(h.options.url);
        withSecret.username = 'user';
        withSecret.password = 's3cr3t-pw';
        withSecret.searchParams.set('definitelyNotAnOption', '1');
        const err = await createBus({ url: withSecret.toString(), service: 's' }).catch((e: unknown) => e);
        expect(String((err as Error).message)).not.toContain('s3cr3t-pw');
      }
      // An unparseable URL (bad port) with credentials: Node's URL error carries the raw input, so
      // nothing of it may reach the message, the cause chain or any property a logger prints.
      const scheme = h.options.url === undefined ? 'memory:' : new URL(h.options.url).protocol;
      const unparseable = `${scheme}//user:s3cr3t-pw@host:1x?token=t0ken-val`;
      const bad = await createBus({ url: unparseable, service: 's', logger: silentLogger }).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(ConfigurationError);
      const printed = inspect(bad, { depth: 10 });
      expect(printed).not.toContain('s3cr3t-pw');
      expect(printed).not.toContain('t0ken-val');
      await expect(createBus({ url: 'memory://', service: 'bad service' })).rejects.toBeInstanceOf(ValidationError);
    },
  },
  {
    id: 'bad-input.header-limits',
    title: 'an oversized header or correlation id is a ValidationError, nothing is sent, and headers at the limit arrive intact',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('hdrlimits');
      const got = new Collector<Message>();
      await bus.subscribe(topic, (m) => got.push(m));
      const { maxHeaderValueBytes, maxHeaderBytes } = bus.capabilities;
      const refused = [
        bus.publish(topic, { n: 1 }, { headers: { big: 'x'.repeat(100_000) } }),
        bus.publish(topic, { n: 2 }, { correlationId: 'c'.repeat(70_000) }),
        bus.publish(topic, { n: 3 }, { causationId: 'c'.repeat(300) }),
        bus.publish(topic, { n: 4 }, { headers: { crlf: 'a\r\nb' } }),
        bus.publish(topic, { n: 5 }, { headers: { big: 'x'.repeat(maxHeaderValueBytes + 1) } }),
        bus.publish(
          topic,
          { n: 6 },
          { headers: Object.fromEntries(Array.from({ length: Math.ceil(maxHeaderBytes / maxHeaderValueBytes) + 1 }, (_, i) => [`h${i}`, 'v'.repeat(maxHeaderValueBytes)])) },
        ),
        bus.request(topic, { n: 7 }, { correlationId: 'c'.repeat(70_000), timeoutMs: 1000 }),
      ];
      for (const [i, attempt] of refused.entries()) {
        const err = await attempt.catch((e: unknown) => e);
        expect(err, `case ${i + 1}`).toBeInstanceOf(ValidationError);
        expect((err as Error).message, `case ${i + 1}`).toMatch(/bytes|line break|control/);
      }
      // The bus keeps working, and a header exactly at the value limit, with others filling most of the budget, arrives intact.
      const atLimit = 'v'.repeat(maxHeaderValueBytes);
      const headers = { a: atLimit, b: 'é'.repeat(Math.floor(maxHeaderValueBytes / 2)), c: 'tab\tok' };
      await bus.publish(topic, { n: 8 }, { headers, correlationId: 'k'.repeat(256) });
      const [m] = await got.waitFor(1);
      expect(m!.body).toEqual({ n: 8 });
      expect(m!.headers['a']).toBe(atLimit);
      expect(m!.headers['b']).toBe(headers.b);
      expect(m!.headers['c']).toBe('tab\tok');
      expect(m!.correlationId).toBe('k'.repeat(256));
      expect(got.items).toHaveLength(1);
    },
  },
  {
    id: 'bad-input.options-upfront',
    title: 'malformed options (schema, key function, retry, headers, ids, signal, logger) are refused before anything is sent',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('upfront');
      const got = new Collector<Message>();
      await bus.subscribe(topic, (m) => got.push(m));
      const other = h.topic('upfront-sub');
      const store = memoryIdempotencyStore();
      const refusals: [string, Promise<unknown>][] = [
        ['schema: {}', bus.subscribe(other, () => undefined, { schema: {} as never })],
        ['idempotency.key: string', bus.subscribe(other, () => undefined, { idempotency: { store, key: 'id' as never } })],
        ['retry: true', bus.subscribe(other, () => undefined, { retry: true as never })],
        ['handlerTimeoutMs: 0', bus.subscribe(other, () => undefined, { handlerTimeoutMs: 0 })],
        ['headers: "abc"', bus.publish(topic, { bad: 1 }, { headers: 'abc' as never })],
        ['correlationId: 5', bus.publish(topic, { bad: 2 }, { correlationId: 5 as never })],
        ['causationId: {}', bus.publish(topic, { bad: 3 }, { causationId: {} as never })],
        ['contentType: 5', bus.publish(topic, 'x', { contentType: 5 as never })],
        ['key: 7', bus.publish(topic, { bad: 4 }, { key: 7 as never })],
        ['signal: {}', bus.request(topic, { bad: 5 }, { signal: {} as never, timeoutMs: 1000 })],
      ];
      for (const [what, attempt] of refusals) {
        const err = await attempt.catch((e: unknown) => e);
        expect(err, what).toBeInstanceOf(ValidationError);
      }
      await expect(createBus({ url: h.options.url ?? 'memory://', service: 's', logger: {} as never })).rejects.toBeInstanceOf(ValidationError);
      await bus.publish(topic, { good: true });
      await got.waitFor(1);
      expect(got.items.map((m) => m.body)).toEqual([{ good: true }]);
    },
  },
];
