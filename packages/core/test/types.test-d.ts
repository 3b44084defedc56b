/**
 * Type tests (vitest typecheck: tsc checks this file, nothing runs; `npm run typecheck` too). What
 * a handler sees as msg.body with and without a contract, with a named body type (subscribe<T>,
 * pull<T>, reply<Req, Res>, request<Req, Res>) and with a schema (zod, valibot, arktype); typed
 * ctx.publish/ctx.request; closed contracts. Each @ts-expect-error fails the build if it compiles.
 */
import { type } from 'arktype';
import * as v from 'valibot';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineContract, type Bus, type ClosedContract, type Message, type PulledMessage } from '../src/index.js';

interface Order {
  orderId: string;
}

declare const plain: Bus;
const contract = defineContract({ 'order.placed': z.object({ orderId: z.string(), total: z.number() }) });
declare const typed: Bus<typeof contract>;

describe('bodies without a contract', () => {
  it('are unknown unless a type is named', () => {
    void plain.subscribe('order.placed', async (msg) => {
      expectTypeOf(msg.body).toBeUnknown();
    });
  });

  it('subscribe<T> types msg.body (the README quick start)', () => {
    void plain.subscribe<Order>('order.placed', async (msg, ctx) => {
      expectTypeOf(msg.body).toEqualTypeOf<Order>();
      expectTypeOf(msg.body.orderId).toBeString();
      await ctx.publish('invoice.requested', { orderId: msg.body.orderId });
    });
  });

  it('subscribe<T> checks the options against T (schema, idempotency key)', () => {
    void plain.subscribe<Order>('order.placed', async () => {}, {
      schema: z.object({ orderId: z.string() }),
      idempotency: { store: undefined as never, key: (msg) => msg.body.orderId },
    });
    // @ts-expect-error a schema for another shape does not fit subscribe<Order>
    void plain.subscribe<Order>('order.placed', async () => {}, { schema: z.object({ sku: z.number() }) });
  });

  it('an annotated handler names the type too', () => {
    void plain.subscribe('order.placed', async (msg: Message<Order>) => {
      expectTypeOf(msg.body.orderId).toBeString();
    });
  });

  it('pull<T> types the pulled bodies', async () => {
    const batch = await plain.pull<Order>('jobs', { max: 5 });
    expectTypeOf(batch).toEqualTypeOf<PulledMessage<Order>[]>();
    const untyped = await plain.pull('jobs');
    expectTypeOf(untyped[0]!.body).toBeUnknown();
  });

  it('createBus without a contract returns a bus that accepts subscribe<T>', async () => {
    const bus = await createBus({ url: 'memory://', service: 'orders' });
    void bus.subscribe<Order>('order.placed', async (msg) => {
      expectTypeOf(msg.body).toEqualTypeOf<Order>();
    });
  });
});

describe('bodies with a contract', () => {
  it('contract topics have the schema output', () => {
    void typed.subscribe('order.placed', async (msg) => {
      expectTypeOf(msg.body).toEqualTypeOf<{ orderId: string; total: number }>();
    });
  });

  it('a named type cannot override the contract: it gives unknown', () => {
    void typed.subscribe<Order>('order.placed', async (msg) => {
      expectTypeOf(msg.body).toBeUnknown();
    });
    // @ts-expect-error a handler annotated with another body type does not compile on a contract topic
    void typed.subscribe('order.placed', async (msg: Message<{ sku: number }>) => msg);
  });
});

/** The same order in three Standard Schema libraries. */
const zodOrder = z.object({ orderId: z.string(), total: z.number() });
const valibotOrder = v.object({ orderId: v.string(), total: v.number() });
const arkOrder = type({ orderId: 'string', total: 'number' });
type OrderWithTotal = { orderId: string; total: number };

describe('schema inference without a contract (subscribe, pull, reply)', () => {
  it('subscribe({ schema }) types msg.body as the schema output, for zod, valibot and arktype', () => {
    void plain.subscribe('order.placed', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<OrderWithTotal>(), { schema: zodOrder });
    void plain.subscribe('order.placed', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<OrderWithTotal>(), { schema: valibotOrder });
    void plain.subscribe('order.placed', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<OrderWithTotal>(), { schema: arkOrder });
  });

  it('the output type, not the input type (transforms)', () => {
    const length = z.string().transform((s) => s.length);
    void plain.subscribe('words', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<number>(), { schema: length });
    const vLength = v.pipe(
      v.string(),
      v.transform((s) => s.length),
    );
    void plain.subscribe('words', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<number>(), { schema: vLength });
  });

  it('the other options see the inferred body (idempotency key)', () => {
    void plain.subscribe('order.placed', async () => {}, {
      schema: valibotOrder,
      idempotency: { store: undefined as never, key: (msg) => expectTypeOf(msg.body.orderId).toBeString() as unknown as string },
    });
    // @ts-expect-error the body has no sku
    void plain.subscribe('order.placed', async (msg) => msg.body.sku, { schema: arkOrder });
  });

  it('pull({ schema }) types the pulled bodies', async () => {
    expectTypeOf(await plain.pull('jobs', { schema: valibotOrder })).toEqualTypeOf<PulledMessage<OrderWithTotal>[]>();
    expectTypeOf(await plain.pull('jobs', { schema: arkOrder, max: 3 })).toEqualTypeOf<PulledMessage<OrderWithTotal>[]>();
  });

  it('reply({ schema }) types the request', () => {
    void plain.reply('stock.check', async (req) => expectTypeOf(req.body).toEqualTypeOf<OrderWithTotal>(), { schema: zodOrder });
  });

  it('on a contract topic the contract wins over the schema option', () => {
    void typed.subscribe('order.placed', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<{ orderId: string; total: number }>(), { schema: v.string() });
    // Outside the contract (open): the schema's output.
    void typed.subscribe('other.topic', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<string>(), { schema: v.string() });
  });
});

describe('contracts from any Standard Schema', () => {
  const mixed = defineContract({
    'order.placed': valibotOrder,
    'order.paid': arkOrder,
    'words.counted': z.string().transform((s) => s.length),
    'stock.check': { request: v.object({ sku: v.string() }), response: type({ available: 'boolean' }) },
  });
  const bus = {} as Bus<typeof mixed>;

  it('publish takes the schema input, handlers get its output', async () => {
    await bus.publish('order.placed', { orderId: 'o-1', total: 3 });
    await bus.publish('order.paid', { orderId: 'o-1', total: 3 });
    await bus.publish('words.counted', 'three words here');
    // @ts-expect-error total is a number
    await bus.publish('order.paid', { orderId: 'o-1', total: '3' });
    // @ts-expect-error the input is a string (the output is its length)
    await bus.publish('words.counted', 3);
    void bus.subscribe('words.counted', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<number>());
    void bus.subscribe('order.paid', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<OrderWithTotal>());
  });

  it('request/reply take the request schema and give the response schema', async () => {
    expectTypeOf(await bus.request('stock.check', { sku: 'A' })).toEqualTypeOf<{ available: boolean }>();
    // @ts-expect-error sku is a string
    await bus.request('stock.check', { sku: 1 });
    void bus.reply('stock.check', async (req) => {
      expectTypeOf(req.body).toEqualTypeOf<{ sku: string }>();
      return { available: true };
    });
    // @ts-expect-error the reply must match the response schema
    void bus.reply('stock.check', async () => ({ available: 'yes' }));
  });

  it('an open contract still takes other topics, with unknown bodies', async () => {
    await bus.publish('audit.logged', { anything: true });
    void bus.subscribe('audit.logged', async (msg) => expectTypeOf(msg.body).toBeUnknown());
    expectTypeOf(await bus.request('price.quote', 1)).toBeUnknown();
  });

  it('ctx.publish / ctx.request inside handlers are typed by the contract', () => {
    void bus.subscribe('order.placed', async (_msg, ctx) => {
      await ctx.publish('order.paid', { orderId: 'o-1', total: 3 });
      // @ts-expect-error total is a number
      await ctx.publish('order.paid', { orderId: 'o-1', total: '3' });
      // @ts-expect-error the input of words.counted is a string
      await ctx.publish('words.counted', 3);
      expectTypeOf(await ctx.request('stock.check', { sku: 'A' })).toEqualTypeOf<{ available: boolean }>();
      // @ts-expect-error sku is a string
      await ctx.request('stock.check', { sku: 1 });
      await ctx.publish('audit.logged', { anything: true }); // open contract: other topics allowed
    });
    void bus.reply('stock.check', async (_req, ctx) => {
      await ctx.publish('order.placed', { orderId: 'o-1', total: 1 });
      return { available: true };
    });
    void bus.pull('order.placed');
  });
});

describe('a closed contract', () => {
  const closed = defineContract({ 'order.placed': zodOrder, 'stock.check': { request: v.object({ sku: v.string() }), response: v.boolean() } }, { closed: true });
  const bus = {} as Bus<typeof closed>;

  it('is a ClosedContract and createBus keeps it', async () => {
    expectTypeOf(closed).toExtend<ClosedContract>();
    const created = await createBus({ service: 's', contract: closed });
    expectTypeOf(created).toEqualTypeOf<Bus<typeof closed>>();
  });

  it('its topics work as on an open contract', async () => {
    await bus.publish('order.placed', { orderId: 'o-1', total: 1 });
    expectTypeOf(await bus.request('stock.check', { sku: 'A' })).toEqualTypeOf<boolean>();
    void bus.subscribe('order.placed', async (msg) => expectTypeOf(msg.body).toEqualTypeOf<OrderWithTotal>());
  });

  it('topics it does not name do not compile: publish, subscribe, pull, reply, request, ctx.publish, ctx.request', async () => {
    // @ts-expect-error not in the closed contract
    await bus.publish('order.plaecd', { orderId: 'o-1', total: 1 });
    // @ts-expect-error not in the closed contract
    void bus.subscribe('order.shipped', async () => {});
    // @ts-expect-error not in the closed contract, not even with a schema
    void bus.subscribe('order.shipped', async () => {}, { schema: v.string() });
    // @ts-expect-error not in the closed contract, not even with a named type
    void bus.subscribe<Order>('order.shipped', async () => {});
    // @ts-expect-error not in the closed contract
    await bus.pull('order.shipped');
    // @ts-expect-error not in the closed contract
    void bus.reply('stock.query', async () => true);
    // @ts-expect-error not in the closed contract
    await bus.request('stock.query', { sku: 'A' });
    void bus.subscribe('order.placed', async (_msg, ctx) => {
      // @ts-expect-error not in the closed contract
      await ctx.publish('order.shipped', {});
      // @ts-expect-error not in the closed contract
      await ctx.request('stock.query', {});
      await ctx.publish('order.placed', { orderId: 'o-2', total: 2 });
    });
  });

  it('dead-letter topics of its topics are allowed, with unknown bodies (a dead letter may be invalid)', () => {
    void bus.subscribe('order.placed.dlq', async (msg) => expectTypeOf(msg.body).toBeUnknown());
    // @ts-expect-error only contract topics have dead-letter topics here
    void bus.subscribe('order.shipped.dlq', async () => {});
  });
});

describe('named request/reply types without a contract: reply<Req, Res>, request<Req, Res>', () => {
  interface StockQuery {
    sku: string;
  }
  interface Stock {
    available: boolean;
  }

  it('type the request body and the reply', async () => {
    void plain.reply<StockQuery, Stock>('stock.check', async (req) => {
      expectTypeOf(req.body).toEqualTypeOf<StockQuery>();
      return { available: true };
    });
    // @ts-expect-error the reply must be a Stock
    void plain.reply<StockQuery, Stock>('stock.check', async () => ({ available: 'yes' }));
    expectTypeOf(await plain.request<StockQuery, Stock>('stock.check', { sku: 'A' })).toEqualTypeOf<Stock>();
    // @ts-expect-error the body must be a StockQuery
    await plain.request<StockQuery, Stock>('stock.check', { sku: 1 });
    // @ts-expect-error both types are named: one alone would be ambiguous (request or reply type?)
    await plain.request<Stock>('stock.check', { sku: 'A' });
    void plain.subscribe('order.placed', async (_msg, ctx) => {
      expectTypeOf(await ctx.request<StockQuery, Stock>('stock.check', { sku: 'A' })).toEqualTypeOf<Stock>();
    });
  });

  it('on a bus with a contract, named types give unknown (as subscribe<T>)', async () => {
    expectTypeOf(await typed.request<StockQuery, Stock>('stock.check', { sku: 'A' })).toBeUnknown();
    void typed.reply<StockQuery, Stock>('stock.check', async (req) => {
      expectTypeOf(req.body).toBeUnknown();
      return 1;
    });
  });

  it('without type arguments: unknown in, unknown out', async () => {
    expectTypeOf(await plain.request('stock.check', { sku: 'A' })).toBeUnknown();
    void plain.reply('stock.check', async (req) => expectTypeOf(req.body).toBeUnknown());
  });
});
