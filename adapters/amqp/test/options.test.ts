import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, ConnectionError, createBus, silentLogger } from '@switchyard/core';
import { createTransport } from '../src/index.js';
import { RABBITMQ_URL } from './helpers.js';

const context = { service: 'opts', logger: silentLogger };
const make = (url: string) => createTransport(new URL(url), context);
const SECRET = 's3cr3t-pw';

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

function expectNoSecret(err: Error): void {
  expect(err.message).not.toContain(SECRET);
  expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(SECRET);
  if (err.cause instanceof Error) expect(err.cause.message).not.toContain(SECRET);
  expect(inspect(err, { depth: 10 })).not.toContain(SECRET);
}

describe('amqp URL options', () => {
  it('rejects unknown options with ConfigurationError naming the allowed ones, without the password', () => {
    expect(() => make(`amqp://alice:${SECRET}@127.0.0.1:5672?prefech=10`)).toThrow(ConfigurationError);
    try {
      make(`amqp://alice:${SECRET}@127.0.0.1:5672?prefech=10`);
    } catch (err) {
      expect((err as Error).message).toMatch(/Unknown amqp URL option "prefech".*maxPrefetch/);
      expectNoSecret(err as Error);
    }
  });

  it('validates values', () => {
    const bad = [
      'queueType=stream',
      'heartbeat=-1',
      'heartbeat=abc',
      `maxPayloadBytes=${256 * 1024 * 1024}`,
      'prefix=bad/prefix',
      'prefix=',
      'maxPrefetch=0',
      'reconnectMinMs=5000&reconnectMaxMs=100',
      'queueType=classic&deliveryLimit=5',
      'servername=rabbit.local',
      'rejectUnauthorized=maybe',
      'heartbeat=10&heartbeat=20',
      'noDelay=maybe',
    ];
    for (const query of bad) expect(() => make(`amqp://127.0.0.1:5672?${query}`), query).toThrow(ConfigurationError);
    expect(() => make('amqp://127.0.0.1:5672/a/b')).toThrow(/single segment/);
    expect(() => make('amqps://127.0.0.1:5671?ca=/does/not/exist.pem')).toThrow(/Cannot read the amqps ca file/);
  });

  it('accepts the documented options', () => {
    const t = make(
      'amqps://u:p@rabbit.example:5671/%2F?prefix=acme&queueType=quorum&deliveryLimit=20&queueExpiresMs=60000&heartbeat=30&maxPrefetch=500&maxPayloadBytes=1048576&publishTimeoutMs=5000&connectTimeoutMs=2000&reconnectMinMs=50&reconnectMaxMs=2000&connectionName=orders&noDelay=false&servername=rabbit.example&rejectUnauthorized=false',
    );
    expect(t).toHaveProperty('name', 'amqp');
    expect(t).toHaveProperty('capabilities.maxPayloadBytes', 1048576);
    expect(make('amqp://127.0.0.1?queueType=classic')).toHaveProperty('capabilities.deliveryCount', 'approximate');
    expect(make('amqp://127.0.0.1')).toHaveProperty('capabilities.deliveryCount', 'exact');
    expect(make('amqp://127.0.0.1')).toHaveProperty('config.options.noDelay', true);
    expect(make('amqp://127.0.0.1?noDelay=false')).toHaveProperty('config.options.noDelay', false);
  });

  it('connection refused is a ConnectionError with the URL redacted', async () => {
    const err = await failure(createBus({ url: `amqp://alice:${SECRET}@127.0.0.1:1/%2F?connectTimeoutMs=2000`, service: 's', logger: silentLogger }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('amqp://alice:***@127.0.0.1:1');
    expect(err.message).toMatch(/ECONNREFUSED/);
    expectNoSecret(err);
  });

  it('a password with "/" that parses as host:port/vhost never shows in the ConnectionError', async () => {
    // "localhost:1/<secret>@rabbit" parses as host localhost, port 1, vhost "<secret>@rabbit:5672".
    const err = await failure(createBus({ url: `amqp://localhost:1/${SECRET}@rabbit:5672?connectTimeoutMs=2000`, service: 's', logger: silentLogger }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('rabbit:5672');
    expectNoSecret(err);
    // Its redacted form is no URL at all ("amqp://***@rabbit:***"): still a ConnectionError, not a TypeError.
    const odd = await failure(createBus({ url: `amqp://localhost:1/${SECRET}@rabbit:x?connectTimeoutMs=2000`, service: 's', logger: silentLogger }));
    expect(odd).toBeInstanceOf(ConnectionError);
    expectNoSecret(odd);
  });

  it('an unparseable URL with a password and a token is a ConfigurationError showing neither', async () => {
    const err = await failure(createBus({ url: `amqps://alice:${SECRET}@rabbit:5671x/%2F?passphrase=${SECRET}`, service: 's', logger: silentLogger }));
    expect(err).toBeInstanceOf(ConfigurationError);
    expectNoSecret(err);
  });

  it('wrong credentials against the real broker: ConnectionError without the password', async () => {
    const url = new URL(RABBITMQ_URL);
    url.username = 'nobody';
    url.password = SECRET;
    const err = await failure(createBus({ url: url.toString(), service: 's', logger: silentLogger }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toMatch(/ACCESS[-_]REFUSED|403/);
    expectNoSecret(err);
  });

  it('SWITCHYARD_URL=amqp://... picks this adapter through core’s registry', async () => {
    const previous = process.env['SWITCHYARD_URL'];
    process.env['SWITCHYARD_URL'] = RABBITMQ_URL;
    try {
      const bus = await createBus({ service: 'registry-check', logger: silentLogger });
      const health = await bus.health();
      await bus.close();
      expect(health.ok).toBe(true);
      expect(health.transport).toBe('amqp');
      expect(health.details['server']).toMatchObject({ product: 'RabbitMQ' });
      expect(JSON.stringify(health)).not.toContain(new URL(RABBITMQ_URL).password || '\u0000');
    } finally {
      if (previous === undefined) delete process.env['SWITCHYARD_URL'];
      else process.env['SWITCHYARD_URL'] = previous;
    }
  });
});

describe('amqp topology conflicts', () => {
  it('a group queue that exists with other arguments is a ConfigurationError saying why', async () => {
    const topic = `conflict.${Math.random().toString(36).slice(2, 10)}`;
    const quorum = await createBus({ url: `${RABBITMQ_URL}?queueExpiresMs=600000`, service: 'conflict-q', logger: silentLogger });
    const classic = await createBus({ url: `${RABBITMQ_URL}?queueExpiresMs=600000&queueType=classic`, service: 'conflict-c', logger: silentLogger });
    try {
      await quorum.pull(topic, { group: 'g', waitMs: 0 });
      const err = await failure(classic.pull(topic, { group: 'g', waitMs: 0 }));
      expect(err).toBeInstanceOf(ConfigurationError);
      expect(err.message).toMatch(/different settings.*x-queue-type/);
      // The bus stays usable for other queues.
      await expect(classic.pull(`${topic}.other`, { group: 'g', waitMs: 0 })).resolves.toEqual([]);
    } finally {
      await Promise.all([quorum.close(), classic.close()]);
    }
  });
});
