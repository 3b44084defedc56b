import { inspect } from 'node:util';
import { z } from 'zod';
import { ConfigurationError, createBus, silentLogger, PayloadTooLargeError, ValidationError, type Message } from '@switchyard/core';
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
];
