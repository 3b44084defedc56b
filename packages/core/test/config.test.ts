import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigurationError, createBus, defineContract, registerTransport, silentLogger, ValidationError } from '../src/index.js';
import { backoffDelay, decodeUrlPart, parseBusUrl, parseUrlOptions, PLANNED_ADAPTERS, redactUrl } from '../src/spi-entry.js';
import { resolveRetryPolicy } from '../src/retry.js';
import { installedCoreCopy } from './helpers.js';

describe('URL → transport registry', () => {
  it('names the package to install when an adapter is missing (core installed on its own, no adapters next to it)', async () => {
    const { core } = await installedCoreCopy('0.0.0-alone');
    await expect(core.createBus({ url: 'nats://127.0.0.1:4222', service: 's', logger: core.silentLogger })).rejects.toThrow(
      'The nats:// transport lives in @switchyard/nats, which is not installed. Run: npm install @switchyard/nats',
    );
  });

  it.each(Object.entries(PLANNED_ADAPTERS))('says %s:// is planned, not released, instead of suggesting an install', async (scheme, pkg) => {
    const error = await createBus({ url: `${scheme}://127.0.0.1:1`, service: 's', logger: silentLogger }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      `The ${scheme}:// transport is planned as ${pkg}, which is not released yet. Use another broker for now, or your own adapter: registerTransport("${scheme}", factory).`,
    );
    expect((error as Error).message).not.toContain('npm install');
  });

  it('rejects unknown schemes and unparseable URLs with ConfigurationError', async () => {
    await expect(createBus({ url: 'mqtt://x', service: 's' })).rejects.toThrow(/Unknown URL scheme "mqtt:\/\/". Known schemes: memory:\/\//);
    await expect(createBus({ url: '::nope', service: 's' })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(createBus({ url: '', service: 's' })).rejects.toThrow(/No broker URL/);
  });

  it('rejects unknown and invalid memory:// options', async () => {
    await expect(createBus({ url: 'memory://?maxPayload=1', service: 's' })).rejects.toThrow(
      'Unknown memory URL option "maxPayload". Allowed: maxPayloadBytes, ackDeadlineMs, nack, maxNackDelayMs, delay, maxDelayMs, deliveryCount.',
    );
    await expect(createBus({ url: 'memory://?maxPayloadBytes=-1', service: 's' })).rejects.toThrow(/Invalid memory URL options: maxPayloadBytes/);
    const bus = await createBus({ url: 'memory://sized?maxPayloadBytes=2048', service: 's' });
    expect(bus.capabilities.maxPayloadBytes).toBe(2048);
    await bus.close();
  });

  it('lets custom adapters register a scheme', async () => {
    let seen: URL | undefined;
    registerTransport('custom', async (url, ctx) => {
      seen = url;
      const { createMemoryTransport } = await import('../src/memory/transport.js');
      return createMemoryTransport(new URL('memory://custom'), ctx);
    });
    const bus = await createBus({ url: 'custom://host/x', service: 's' });
    expect(seen?.host).toBe('host');
    expect((await bus.health()).transport).toBe('memory');
    await bus.close();
    expect(() =>
      registerTransport('Bad Scheme', () => {
        throw new Error();
      }),
    ).toThrow(ConfigurationError);
  });

  it('splits a comma-separated host list off the URL for clustered brokers', () => {
    const parsed = parseBusUrl('kafka://user:pw@k1:9092,k2:9093,[::1]:9094/path?clientId=x');
    expect(parsed.hosts).toEqual(['k1:9092', 'k2:9093', '[::1]:9094']);
    expect(parsed.url.host).toBe('k1:9092');
    expect(parsed.url.username).toBe('user');
    expect(parsed.url.pathname).toBe('/path');
    expect(parsed.url.searchParams.get('clientId')).toBe('x');
    expect(parseBusUrl('amqp://h:5672').hosts).toEqual(['h:5672']);
    expect(() => parseBusUrl('kafka://k1:9092,,k2:9092')).toThrow(/empty host/);
    expect(() => parseBusUrl('kafka://user:secret@k1:9092,k2:bad')).toThrow(ConfigurationError);
    expect(() => parseBusUrl('kafka://user:secret@k1:9092,k2:bad')).not.toThrow(/secret/);
  });

  it('never shows passwords or secret-looking options', () => {
    expect(redactUrl('amqp://user:hunter2@host:5672/?token=abc&x=1')).toBe('amqp://user:***@host:5672/?token=***&x=1');
    expect(redactUrl('amqps://h/?passphrase=p&cert=/c.pem')).toBe('amqps://h/?passphrase=***&cert=%2Fc.pem');
    expect(() => parseUrlOptions(new URL('kafka://h?a=1&a=2'), { a: z.string() }, 'kafka')).toThrow(/appears twice/);
  });

  it('decodes percent-encoded URL parts; bad encoding is a ConfigurationError that names the part, never its text', () => {
    expect(decodeUrlPart('p%40ss%2Fw', 'kafka', 'user info')).toBe('p@ss/w');
    let thrown: unknown;
    try {
      decodeUrlPart('hunter2%E0%A4%A', 'amqp', 'user info');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as Error).message).toBe('The amqp URL user info is not valid percent-encoding: write "%" as %25 and reserved characters as %XX.');
  });

  it('requires a portable service name and known createBus options', async () => {
    await expect(createBus({ service: 'my service' })).rejects.toThrow(/Invalid service name/);
    await expect(createBus({ service: 's', urll: 'memory://' } as never)).rejects.toThrow(/Unknown createBus option "urll"/);
  });
});

describe('retry policy', () => {
  it('fills defaults and validates ranges', () => {
    expect(resolveRetryPolicy(undefined)).toEqual({ maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 30_000, factor: 2 });
    expect(resolveRetryPolicy(false).maxAttempts).toBe(1);
    expect(() => resolveRetryPolicy({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => resolveRetryPolicy({ factor: 0.5 })).toThrow(/factor/);
    expect(() => resolveRetryPolicy({ initialDelayMs: 500, maxDelayMs: 100 })).toThrow(/below initialDelayMs/);
    expect(() => resolveRetryPolicy({ maxAttemps: 3 } as never)).toThrow(ValidationError);
  });

  it('backs off exponentially with equal jitter, capped at maxDelayMs', () => {
    const policy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 1000, factor: 2 };
    expect([2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, () => 1))).toEqual([100, 200, 400, 800, 1000]);
  });
});

describe('contracts', () => {
  const contract = defineContract({
    'order.placed': z.object({ orderId: z.string() }),
    'inventory.check': { request: z.object({ sku: z.string() }), response: z.object({ available: z.boolean() }) },
  });

  it('rejects non-portable topics and non-schemas', () => {
    expect(() => defineContract({ 'bad topic': z.string() })).toThrow(ValidationError);
    expect(() => defineContract({ ok: 'string' as never })).toThrow(/must be a Standard Schema/);
  });

  it('validates publish bodies, request bodies and replies', async () => {
    const bus = await createBus({ url: 'memory://contract', service: 's', contract, logger: silentLogger });
    await expect(bus.publish('order.placed', { orderId: 1 } as never)).rejects.toThrow(/orderId/);
    await bus.reply('inventory.check', async (req) => ({ available: req.body.sku === 'A' }));
    await expect(bus.request('inventory.check', { sku: 'A' })).resolves.toEqual({ available: true });
    await expect(bus.request('inventory.check', { sku: 3 } as never)).rejects.toBeInstanceOf(ValidationError);
    await bus.close();
  });

  it('turns a reply that breaks the response schema into RemoteHandlerError', async () => {
    const bus = await createBus({ url: 'memory://contract2', service: 's', contract, logger: silentLogger });
    await bus.reply('inventory.check', async () => ({ available: 'yes' }) as never);
    await expect(bus.request('inventory.check', { sku: 'A' })).rejects.toThrow(/available/);
    await bus.close();
  });
});
