/**
 * Schemas from any Standard Schema v1 library (zod 4, valibot, arktype), as `schema:` options and
 * in contracts: valid bodies reach handlers as the schema's output, invalid ones are dead-lettered
 * at once with every issue (path: message) in x-switchyard-error, and publishing with a contract
 * validates before anything is sent. Async schemas (zod, valibot; arktype has none) work everywhere.
 */
import { type } from 'arktype';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBus, defineContract, silentLogger, ValidationError, type Message, type StandardSchemaV1 } from '../src/index.js';
import { closeAfterEach, memoryBus, topic, waitFor } from './helpers.js';

const track = closeAfterEach();
let brokers = 0;

interface Library {
  readonly name: string;
  /** { orderId: string, items: { sku: string }[] } */
  readonly order: StandardSchemaV1;
  /** A string, upper-cased: the output differs from the input. */
  readonly upper: StandardSchemaV1<unknown, string>;
}

const libraries: Library[] = [
  {
    name: 'zod',
    order: z.object({ orderId: z.string(), items: z.array(z.object({ sku: z.string() })) }),
    upper: z.string().transform((s) => s.toUpperCase()),
  },
  {
    name: 'valibot',
    order: v.object({ orderId: v.string(), items: v.array(v.object({ sku: v.string() })) }),
    upper: v.pipe(
      v.string(),
      v.transform((s) => s.toUpperCase()),
    ),
  },
  {
    name: 'arktype',
    order: type({ orderId: 'string', items: type({ sku: 'string' }).array() }),
    upper: type('string').pipe((s) => s.toUpperCase()),
  },
];

/** { orderId: string } whose orderId must start with "o-", checked asynchronously (arktype has no async validation). */
const asyncSchemas: { readonly name: string; readonly schema: StandardSchemaV1 }[] = [
  { name: 'zod', schema: z.object({ orderId: z.string() }).refine(async (o) => o.orderId.startsWith('o-'), { message: 'unknown order', path: ['orderId'] }) },
  {
    name: 'valibot',
    schema: v.pipeAsync(
      v.object({ orderId: v.string() }),
      v.checkAsync(async (o) => o.orderId.startsWith('o-'), 'unknown order'),
    ),
  },
];

const valid = { orderId: 'o-1', items: [{ sku: 'A' }] };
const invalid = { orderId: 1, items: [{ sku: 2 }] };

/** Dead letters of `t`, collected from its default dead-letter topic. */
async function collectDeadLetters(bus: Awaited<ReturnType<typeof memoryBus>>, t: string): Promise<Message[]> {
  const dead: Message[] = [];
  await bus.subscribe(`${t}.dlq`, (m) => void dead.push(m));
  return dead;
}

describe.each(libraries)('$name', (lib) => {
  it('subscribe with schema: valid bodies reach the handler as the schema output, invalid ones are dead-lettered at once with their issues', async () => {
    const bus = track(await memoryBus());
    const t = topic(`${lib.name}-sub`);
    const dead = await collectDeadLetters(bus, t);
    const seen: unknown[] = [];
    await bus.subscribe(t, (m) => void seen.push(m.body), { schema: lib.order, retry: { maxAttempts: 5 } });
    await bus.publish(t, invalid);
    await bus.publish(t, valid);
    await waitFor(seen, 1);
    await waitFor(dead, 1);
    expect(seen).toEqual([valid]);
    const error = dead[0]!.headers['x-switchyard-error'];
    expect(error).toContain('failed schema validation');
    expect(error).toMatch(/orderId: \S/);
    expect(error).toMatch(/items\.0\.sku: \S/);
    expect(dead[0]!.headers['x-switchyard-attempts']).toBe('1'); // at once, despite maxAttempts 5
    expect(dead[0]!.body).toEqual(invalid);
  });

  it('subscribe with schema: the handler gets the schema output, not the input', async () => {
    const bus = track(await memoryBus());
    const t = topic(`${lib.name}-out`);
    const seen: unknown[] = [];
    await bus.subscribe(t, (m) => void seen.push(m.body), { schema: lib.upper });
    await bus.publish(t, 'abc');
    await waitFor(seen, 1);
    expect(seen).toEqual(['ABC']);
  });

  it('pull with schema: returns valid bodies and dead-letters invalid ones', async () => {
    const bus = track(await memoryBus());
    const t = topic(`${lib.name}-pull`);
    expect(await bus.pull(t, { schema: lib.order, waitMs: 0 })).toEqual([]); // declares the group
    await bus.publish(t, invalid);
    await bus.publish(t, valid);
    const batch = await bus.pull(t, { schema: lib.order, max: 2 });
    expect(batch.map((m) => m.body)).toEqual([valid]);
    await batch[0]!.ack();
    const dead = await bus.pull(`${t}.dlq`);
    expect(dead.map((m) => m.body)).toEqual([invalid]);
    expect(dead[0]!.headers['x-switchyard-error']).toMatch(/orderId: \S/);
  });

  it('a contract validates before publishing and types nothing away: the invalid body is never sent', async () => {
    const contract = defineContract({ 'order.placed': lib.order, 'stock.check': { request: lib.order, response: lib.upper } });
    const bus = track(await createBus({ url: `memory://schemas-${lib.name}-${++brokers}`, service: 's', contract, logger: silentLogger }));
    const seen: unknown[] = [];
    await bus.subscribe('order.placed', (m) => void seen.push(m.body));
    const rejected = bus.publish('order.placed', invalid as never);
    await expect(rejected).rejects.toBeInstanceOf(ValidationError);
    const error = (await rejected.catch((e: unknown) => e)) as ValidationError;
    expect(error.message).toContain('Body for "order.placed" failed schema validation');
    expect(error.issues.some((i) => /^orderId: \S/.test(i))).toBe(true);
    expect(error.issues.some((i) => /^items\.0\.sku: \S/.test(i))).toBe(true);
    await bus.publish('order.placed', valid);
    await waitFor(seen, 1);
    expect(seen).toEqual([valid]); // the first message delivered is the valid one: the invalid one was never sent
  });

  it('a contract validates requests and replies', async () => {
    const contract = defineContract({ 'stock.check': { request: lib.order, response: lib.upper } });
    const bus = track(await createBus({ url: `memory://schemas-${lib.name}-${++brokers}`, service: 's', contract, logger: silentLogger }));
    await bus.reply('stock.check', (req) => (req.body as { orderId: string }).orderId);
    await expect(bus.request('stock.check', valid)).resolves.toBe('O-1');
    await expect(bus.request('stock.check', invalid as never)).rejects.toBeInstanceOf(ValidationError);
    const other = track(await createBus({ url: `memory://schemas-${lib.name}-${++brokers}`, service: 's', contract, logger: silentLogger }));
    await other.reply('stock.check', () => 42 as never);
    await expect(other.request('stock.check', valid)).rejects.toMatchObject({ code: 'ERR_REMOTE_HANDLER' });
  });
});

describe.each(asyncSchemas)('async $name schema', ({ name, schema }) => {
  it('subscribe dead-letters what it rejects; a contract rejects before sending', async () => {
    const bus = track(await memoryBus());
    const t = topic(`${name}-async`);
    const dead = await collectDeadLetters(bus, t);
    const seen: unknown[] = [];
    await bus.subscribe(t, (m) => void seen.push(m.body), { schema });
    await bus.publish(t, { orderId: 'x-1' });
    await bus.publish(t, { orderId: 'o-2' });
    await waitFor(seen, 1);
    await waitFor(dead, 1);
    expect(seen).toEqual([{ orderId: 'o-2' }]);
    expect(dead[0]!.headers['x-switchyard-error']).toContain('unknown order');

    const contract = defineContract({ 'order.placed': schema });
    const typed = track(await createBus({ url: `memory://schemas-${name}-${++brokers}`, service: 's', contract, logger: silentLogger }));
    const received: unknown[] = [];
    await typed.subscribe('order.placed', (m) => void received.push(m.body));
    await expect(typed.publish('order.placed', { orderId: 'x-1' })).rejects.toThrow(/unknown order/);
    await typed.publish('order.placed', { orderId: 'o-3' });
    await waitFor(received, 1);
    expect(received).toEqual([{ orderId: 'o-3' }]);
  });
});

describe('a closed contract', () => {
  const contract = defineContract({ 'order.placed': z.object({ orderId: z.string() }) }, { closed: true });

  it('refuses topics it does not name, at run time too (for JavaScript callers)', async () => {
    const bus = track(await createBus({ url: `memory://schemas-closed-${++brokers}`, service: 's', contract, logger: silentLogger }));
    const notInContract = /"order.shipped" is not in this bus's closed contract \(order\.placed\)/;
    await expect(bus.publish('order.shipped' as never, {} as never)).rejects.toThrow(notInContract);
    await expect(bus.subscribe('order.shipped' as never, () => undefined)).rejects.toThrow(notInContract);
    await expect(bus.pull('order.shipped' as never)).rejects.toThrow(notInContract);
    await expect(bus.reply('order.shipped' as never, () => undefined)).rejects.toThrow(notInContract);
    await expect(bus.request('order.shipped' as never, {} as never)).rejects.toThrow(notInContract);
  });

  it('allows its topics and their dead-letter topics, and handlers publish through the same check', async () => {
    const bus = track(await createBus({ url: `memory://schemas-closed-${++brokers}`, service: 's', contract, logger: silentLogger }));
    const dead: Message[] = [];
    await bus.subscribe('order.placed.dlq', (m) => void dead.push(m));
    await bus.subscribe('order.placed', async (_m, ctx) => {
      await ctx.publish('order.shipped' as never, {} as never); // not in the contract: the handler fails
    });
    await bus.publish('order.placed', { orderId: 'o-1' });
    await waitFor(dead, 1);
    expect(dead[0]!.headers['x-switchyard-error']).toMatch(/"order.shipped" is not in this bus's closed contract/);
  });

  it('defineContract checks its options', () => {
    expect(() => defineContract({}, { closed: 'yes' } as never)).toThrow(/closed must be true or false/);
    expect(() => defineContract({}, { strict: true } as never)).toThrow(/Unknown defineContract option "strict"/);
  });
});

describe('what is not a Standard Schema', () => {
  it('is refused up front, naming what was given', async () => {
    const bus = track(await memoryBus());
    const zod3Like = { safeParse: () => ({ success: true }) };
    await expect(bus.subscribe(topic('not-schema'), () => undefined, { schema: zod3Like as never })).rejects.toThrow(/without ~standard/);
    expect(() => defineContract({ 'a.b': { '~standard': { version: 2, validate: () => ({}) } } as never })).toThrow(/must be a Standard Schema/);
    // A contract is an object of schemas; a schema itself (arktype's are functions) is not a contract.
    expect(() => defineContract(type('string') as never)).toThrow(/A contract must be an object of topic → schema/);
  });
});
