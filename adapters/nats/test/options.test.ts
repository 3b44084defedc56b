import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, ConnectionError, silentLogger } from '@switchyard/core';
import { createTransport } from '../src/index.js';
import { parseNatsUrl } from '../src/options.js';

const context = { service: 'opts', logger: silentLogger };
const make = (url: string) => createTransport(new URL(url), context);
const SECRET = 's3cr3t-pw';

function expectNoSecret(err: unknown): void {
  expect(err).toBeInstanceOf(Error);
  const e = err as Error;
  expect(e.message).not.toContain(SECRET);
  expect(inspect(e, { depth: 10 })).not.toContain(SECRET);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('nats URL options', () => {
  it('defaults: one server, no credentials, 10 s AckWait, file storage', () => {
    const s = parseNatsUrl(new URL('nats://127.0.0.1'));
    expect(s.servers).toEqual(['127.0.0.1:4222']);
    expect(s.user).toBeUndefined();
    expect(s.options).toMatchObject({ prefix: 'switchyard', ackWaitMs: 10_000, maxAckPending: 1000, storage: 'file', replicas: 1 });
  });

  it('user:password, a lone token, and extra hosts from the context', () => {
    expect(parseNatsUrl(new URL('nats://alice:p%40ss@h:4333'))).toMatchObject({ user: 'alice', pass: 'p@ss', servers: ['h:4333'] });
    expect(parseNatsUrl(new URL('nats://tok3n@h'))).toMatchObject({ token: 'tok3n' });
    expect(parseNatsUrl(new URL('nats://a:4222'), ['a:4222', 'b', 'c:5222']).servers).toEqual(['a:4222', 'b:4222', 'c:5222']);
  });

  it('rejects unknown options naming the allowed ones, without the password', () => {
    const err = thrown(() => make(`nats://alice:${SECRET}@127.0.0.1:4222?ackWait=5`));
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(/Unknown nats URL option "ackWait".*ackWaitMs/);
    expectNoSecret(err);
  });

  it('validates values and combinations', () => {
    for (const query of ['ackWaitMs=10', 'maxAckPending=0', 'storage=disk', 'replicas=9', 'prefix=a.b', 'prefix=a_b', 'tls=maybe', 'cert=/c.pem', 'tls=false&ca=/ca.pem']) {
      expect(() => make(`nats://127.0.0.1:4222?${query}`), query).toThrow(ConfigurationError);
    }
    expect(() => make(`nats://u:${SECRET}@h:4222/path`)).toThrow(/takes no path/);
    expectNoSecret(thrown(() => make(`nats://u:12/${SECRET}@h:4222`)));
  });

  it('an unreachable server is a ConnectionError without the password', async () => {
    const transport = await make(`nats://alice:${SECRET}@127.0.0.1:1?connectTimeoutMs=2000`);
    const err = await transport.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/Cannot connect to NATS at nats:\/\/alice:\*\*\*@127\.0\.0\.1:1/);
    expectNoSecret(err);
  });
});
