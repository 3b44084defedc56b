import { NoResponderError, RemoteHandlerError, RequestTimeoutError, type Message } from '@switchyard/core';
import type { ConformanceCase } from '../case.js';
import { Collector, deferred } from '../harness.js';

export const requestReplyCases: ConformanceCase[] = [
  {
    id: 'request-reply.correlated',
    title: 'a request gets its reply, with the correlation id passed to the handler',
    async run(h, expect) {
      const server = await h.bus();
      const client = await h.bus();
      const topic = h.topic('rr');
      const seen = new Collector<Message>();
      await server.reply(topic, async (req) => {
        seen.push(req);
        const body = req.body as { sku: string; qty: number };
        return { sku: body.sku, available: body.qty <= 3 };
      });
      await expect(client.request(topic, { sku: 'A', qty: 1 }, { correlationId: 'checkout-7' })).resolves.toEqual({ sku: 'A', available: true });
      await expect(client.request(topic, { sku: 'B', qty: 9 })).resolves.toEqual({ sku: 'B', available: false });
      expect(seen.items[0]!.correlationId).toBe('checkout-7');
    },
  },
  {
    id: 'request-reply.concurrent-100',
    title: '100 concurrent requests each get their own reply',
    timeoutMs: 60_000,
    async run(h, expect) {
      const server = await h.bus();
      const client = await h.bus();
      const topic = h.topic('rr100');
      await server.reply(
        topic,
        async (req) => {
          const n = (req.body as { n: number }).n;
          // Finish out of order so replies cannot be matched by arrival order.
          if (n % 3 === 0) await new Promise((r) => setTimeout(r, 5));
          return { n, square: n * n };
        },
        { concurrency: 16 },
      );
      const replies = await Promise.all(Array.from({ length: 100 }, (_, n) => client.request(topic, { n }, { timeoutMs: 30_000 })));
      for (const [n, r] of replies.entries()) expect(r).toEqual({ n, square: n * n });
    },
  },
  {
    id: 'request-reply.remote-error',
    title: 'a reply handler that throws gives the requester RemoteHandlerError with its message',
    async run(h, expect) {
      const server = await h.bus();
      const client = await h.bus();
      const topic = h.topic('rrerr');
      await server.reply(topic, async () => {
        throw new Error('warehouse offline');
      });
      const err = await client.request(topic, { sku: 'A' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteHandlerError);
      expect((err as RemoteHandlerError).code).toBe('ERR_REMOTE_HANDLER');
      expect((err as RemoteHandlerError).remoteMessage).toBe('warehouse offline');
    },
  },
  {
    id: 'request-reply.timeout',
    title: 'no reply in time → RequestTimeoutError, and the late reply is dropped',
    async run(h, expect) {
      const server = await h.bus();
      const client = await h.bus();
      const topic = h.topic('rrslow');
      const release = deferred();
      const replied = new Collector<number>();
      await server.reply(topic, async (req) => {
        const n = (req.body as { n: number }).n;
        if (n === 1) await release.promise;
        replied.push(n);
        return { n };
      });
      const started = Date.now();
      const err = await client.request(topic, { n: 1 }, { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RequestTimeoutError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      release.resolve();
      await replied.waitFor(1);
      // The late reply to n=1 must not satisfy the next request.
      await expect(client.request(topic, { n: 2 }, { timeoutMs: 10_000 })).resolves.toEqual({ n: 2 });
    },
  },
  {
    id: 'request-reply.abort',
    title: 'a request is cancelled through its AbortSignal',
    async run(h, expect) {
      const server = await h.bus();
      const client = await h.bus();
      const topic = h.topic('rrabort');
      const started = deferred();
      await server.reply(topic, async (_req, ctx) => {
        started.resolve();
        await new Promise((r) => ctx.signal.addEventListener('abort', r));
        return 'never';
      });
      const controller = new AbortController();
      const pending = client.request(topic, {}, { signal: controller.signal, timeoutMs: 30_000 }).catch((e: unknown) => e);
      await started.promise;
      controller.abort(new Error('user navigated away'));
      const err = await pending;
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toBe('user navigated away');
    },
  },
  {
    id: 'request-reply.no-responder',
    title: 'a request nobody serves fails with NoResponderError at once where the broker can tell, else RequestTimeoutError',
    async run(h, expect) {
      const bus = await h.bus();
      const topic = h.topic('nobody');
      const err = await bus.request(topic, { q: 1 }, { timeoutMs: 1500 }).catch((e: unknown) => e);
      if (bus.capabilities.noResponders) {
        expect(err).toBeInstanceOf(NoResponderError);
        expect((err as NoResponderError).code).toBe('ERR_NO_RESPONDER');
      } else {
        expect(err).toBeInstanceOf(RequestTimeoutError);
      }
      // Once someone serves it, the same request is answered.
      await bus.reply(topic, (m) => ({ echo: (m.body as { q: number }).q }));
      await expect(bus.request(topic, { q: 2 }, { timeoutMs: 10_000 })).resolves.toEqual({ echo: 2 });
    },
  },
  {
    id: 'request-reply.closed-bus-leaves-nothing',
    title: 'a bus that made requests leaves no reply queue, topic, subscription or inbox behind once closed (asked through a separate transport)',
    notApplicable: (_caps, options) =>
      options.url === undefined
        ? { reason: 'suite was given createBus, not a URL: it cannot open a transport of its own to look', check: (expect) => expect(options.createBus).toBeDefined() }
        : undefined,
    async run(h, expect) {
      const server = await h.bus();
      const topic = h.topic('replyleftovers');
      await server.reply(topic, (m) => m.body);
      const { bus, ephemeral, inboxes } = await h.observedBus(`svc-${h.run}-client`);
      await expect(bus.request(topic, { n: 1 }, { timeoutMs: 10_000 })).resolves.toEqual({ n: 1 });
      const opened: { topic: string; group?: string }[] = [...ephemeral, ...inboxes.map((address) => ({ topic: address }))];
      expect(opened.length).toBeGreaterThan(0);
      const inspector = await h.inspector();
      if (inspector.exists === undefined)
        throw new Error(`The ${inspector.name} transport has no exists(topic, group?): implement it so this suite can see what a closed bus leaves behind.`);
      const exists = inspector.exists.bind(inspector);
      for (const r of opened) expect(await exists(r.topic, r.group), `${r.topic} ${r.group ?? ''} while the bus is open`).toBe(true);
      await bus.close();
      for (const r of opened) {
        if (r.group !== undefined) expect(await exists(r.topic, r.group), `group ${r.group} of ${r.topic} after close`).toBe(false);
        expect(await exists(r.topic), `${r.topic} after close`).toBe(false);
      }
    },
  },
];
