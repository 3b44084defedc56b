import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createBus, silentLogger } from '@switchyard/core';
import { parseBusUrl } from '@switchyard/core/spi';
import { createTransport } from '../src/index.js';
import { KAFKA_URL } from './helpers.js';

const context = { service: 'opts', logger: silentLogger };
const make = (url: string) => {
  const { url: parsed, hosts } = parseBusUrl(url);
  return createTransport(parsed, { ...context, hosts });
};

describe('kafka URL options', () => {
  it('rejects unknown options with ConfigurationError naming the allowed ones', () => {
    expect(() => make('kafka://127.0.0.1:9092?partitons=3')).toThrow(ConfigurationError);
    expect(() => make('kafka://127.0.0.1:9092?partitons=3')).toThrow(/Unknown kafka URL option "partitons".*partitions/);
  });

  it('validates values', () => {
    expect(() => make('kafka://127.0.0.1:9092?partitions=0')).toThrow(ConfigurationError);
    expect(() => make('kafka://127.0.0.1:9092?ssl=yes')).toThrow(ConfigurationError);
    expect(() => make('kafka://127.0.0.1:9092?sasl=kerberos')).toThrow(ConfigurationError);
    expect(() => make('kafka://127.0.0.1:9092?sessionTimeout=6000&heartbeatInterval=6000')).toThrow(/heartbeatInterval/);
    expect(() => make('kafka://127.0.0.1:9092,bad_host:9092')).toThrow(/Invalid broker "bad_host:9092"/);
    expect(() => make('kafka://127.0.0.1:9092/some/path')).toThrow(/no path/);
    expect(() => make('kafka://127.0.0.1:9092?sasl=plain')).toThrow(/username and password/);
  });

  it('accepts the documented options', () => {
    const t = make(
      'kafka://user:pw@127.0.0.1:9092,127.0.0.2:9092?clientId=my-app&partitions=8&replicationFactor=1&ssl=false&sasl=scram-sha-512&sessionTimeout=30000&heartbeatInterval=3000&rebalanceTimeout=60000&maxWaitTime=500&connectionTimeout=5000&requestTimeout=20000&maxBatchBytes=100000',
    );
    expect(t).toHaveProperty('name', 'kafka');
  });

  it('never shows the SASL password in errors', async () => {
    const err = await createBus({ url: 'kafka://alice:s3cr3t-pw@127.0.0.1:9092?sasl=plain&bogus=1', service: 's', logger: silentLogger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(String((err as Error).message)).not.toContain('s3cr3t-pw');
    // Wrong credentials against a broker without SASL: a connection error, still without the password.
    const conn = await createBus({ url: 'kafka://alice:s3cr3t-pw@127.0.0.1:1?sasl=plain&connectionTimeout=200', service: 's', logger: silentLogger }).catch((e: unknown) => e);
    expect(conn).toBeInstanceOf(Error);
    expect(String((conn as Error).message)).not.toContain('s3cr3t-pw');
    expect(JSON.stringify(conn, Object.getOwnPropertyNames(conn))).not.toContain('s3cr3t-pw');
  });

  it('never echoes a password that spilled into the path ("/" in the password) or bad percent-encoding', () => {
    const secret = 's3cr3t-pw';
    // "alice:1234/s3cr3t-pw@k1" parses as host alice, port 1234, path "/s3cr3t-pw@k1:9092".
    let err: unknown;
    try {
      make(`kafka://alice:1234/${secret}@k1:9092,k2:9092`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(/no path/);
    expect(inspect(err, { depth: 10 })).not.toContain(secret);
    expect(() => make('kafka://alice:%E0%A4%A@k1:9092')).toThrow(ConfigurationError);
    expect(() => make('kafka://alice:%E0%A4%A@k1:9092')).toThrow(/percent-encoding/);
  });

  it('SWITCHYARD_URL=kafka://... works through createBus and the registry', async () => {
    const previous = process.env['SWITCHYARD_URL'];
    process.env['SWITCHYARD_URL'] = KAFKA_URL;
    try {
      const bus = await createBus({ service: 'env-url', logger: silentLogger });
      try {
        expect(bus.capabilities.ordering).toBe('perKey');
        const health = await bus.health();
        expect(health).toMatchObject({ ok: true, transport: 'kafka' });
      } finally {
        await bus.close();
      }
    } finally {
      if (previous === undefined) delete process.env['SWITCHYARD_URL'];
      else process.env['SWITCHYARD_URL'] = previous;
    }
  });
});
