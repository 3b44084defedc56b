import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from './helpers.js';

const orderContract = join(repoRoot, 'examples/order-processing/dist/contract.js');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-cli-asyncapi-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Parse with @asyncapi/parser: the document, and its errors and warnings (infos and hints are advice). */
async function parse(text: string) {
  const { document, diagnostics } = await new Parser().parse(text);
  return { document, problems: diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('/')}`) };
}

describe('switchyard asyncapi', () => {
  it("turns the order example's contract into an AsyncAPI 3.0 document the parser accepts", async () => {
    const file = join(dir, 'shop.json');
    const { code, stderr } = await runCli(['asyncapi', orderContract, '--out', file, '--title', 'Shop', '--version', '2.1.0']);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`AsyncAPI 3.0 document for 2 topics written to ${file}`);
    const { document, problems } = await parse(await readFile(file, 'utf8'));
    expect(problems).toEqual([]);
    expect(document!.version()).toBe('3.0.0');
    expect(document!.info().title()).toBe('Shop');
    expect(document!.info().version()).toBe('2.1.0');
    const addresses = document!
      .channels()
      .all()
      .map((c) => c.address());
    expect(addresses).toEqual(expect.arrayContaining(['order.placed', 'order.placed.dlq', 'inventory.check']));

    // order.placed: sent and received, its payload the zod schema as JSON Schema, CloudEvents headers.
    const placed = document!
      .channels()
      .all()
      .find((c) => c.address() === 'order.placed')!;
    const actions = placed
      .operations()
      .all()
      .map((o) => o.action())
      .sort();
    expect(actions).toEqual(['receive', 'send']);
    const message = placed.messages().all()[0]!;
    const payload = message.payload()!.json() as { required: string[]; properties: Record<string, { format?: string; minItems?: number }> };
    expect(payload.required).toEqual(expect.arrayContaining(['orderId', 'customerEmail', 'items', 'total']));
    expect(payload.properties['customerEmail']?.format).toBe('email');
    expect(payload.properties['items']?.minItems).toBe(1);
    const headers = message.headers()!.json() as { required: string[]; properties: Record<string, unknown> };
    expect(headers.required).toEqual(expect.arrayContaining(['ce-id', 'ce-type', 'ce-source', 'ce-specversion']));
    expect(Object.keys(headers.properties)).toEqual(expect.arrayContaining(['ce-correlationid', 'traceparent', 'content-type']));
    expect(message.correlationId()?.location()).toBe('$message.header#/ce-correlationid');

    // inventory.check: a request operation whose reply carries the response schema.
    const request = document!
      .operations()
      .all()
      .find((o) => o.action() === 'send' && o.channels().all()[0]?.address() === 'inventory.check')!;
    const reply = request.reply()!;
    expect(reply.address()?.location()).toBe('$message.header#/ce-replyto');
    const response = reply.messages().all()[0]!.payload()!.json() as { required: string[] };
    expect(response.required).toEqual(expect.arrayContaining(['sku', 'available', 'inStock']));
  });

  it('--url adds the broker as a server with channel bindings, without its credentials', async () => {
    const { code, stdout } = await runCli(['asyncapi', orderContract, '--url', 'kafka://app:hunter2@kafka-1:9093?sasl=plain&partitions=12']);
    expect(code).toBe(0);
    expect(stdout).not.toContain('hunter2');
    const { document, problems } = await parse(stdout);
    expect(problems).toEqual([]);
    const server = document!.servers().all()[0]!;
    expect([server.host(), server.protocol()]).toEqual(['kafka-1:9093', 'kafka']);
    const placed = document!
      .channels()
      .all()
      .find((c) => c.address() === 'order.placed')!;
    expect(placed.bindings().get('kafka')?.value()).toMatchObject({ topic: 'order.placed' });
  });

  it('a module with several contracts needs --export; a module with none is an error that says what to export (exit 3)', async () => {
    const two = join(import.meta.dirname, 'fixtures/two-contracts.mjs');
    const ambiguous = await runCli(['asyncapi', two]);
    expect(ambiguous.code).toBe(3);
    expect(ambiguous.stderr).toMatch(/exports several contracts \(billing, shipping\): pick one with --export <name>/);
    const picked = await runCli(['asyncapi', two, '--export', 'shipping']);
    expect(picked.code).toBe(0);
    const { document, problems } = await parse(picked.stdout);
    expect(problems).toEqual([]);
    expect(
      document!
        .channels()
        .all()
        .map((c) => c.address()),
    ).toEqual(['parcel.shipped', 'parcel.shipped.dlq']);

    const none = await runCli(['asyncapi', join(import.meta.dirname, 'fixtures/no-contract.mjs')]);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/exports no contract: export the result of defineContract\(\{\.\.\.\}\) from it \(exports: topics\)/);
  });
});
