/**
 * Type tests (vitest typecheck: tsc checks this file, nothing runs). What a handler sees as
 * msg.body with and without a contract, and with a named body type (subscribe<T>, pull<T>).
 */
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineContract, type Bus, type Message, type PulledMessage } from '../src/index.js';

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
