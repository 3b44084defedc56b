import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createBus, silentLogger } from '../src/index.js';
import { parseBusUrl, redactUrl, scrubSecrets, urlSecrets } from '../src/spi-entry.js';

const PASSWORD = 's3cr3t-pw';
const USER = 'alice-user';
const TOKEN = 't0ken-val';

/** Everything a log line, a crash report or an error tracker could print about an error. */
function renderings(err: unknown): string[] {
  const out = [inspect(err, { depth: 10 }), inspect(err, { depth: 10, showHidden: true }), JSON.stringify(err) ?? ''];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    out.push(e.message, e.stack ?? '', String(e), JSON.stringify(e, Object.getOwnPropertyNames(e)));
    for (const [name, value] of Object.entries(e)) out.push(`${name}=${typeof value === 'string' ? value : inspect(value, { depth: 10 })}`);
  }
  return out;
}

function expectNoLeak(err: unknown, secrets: readonly string[]): void {
  expect(err).toBeInstanceOf(ConfigurationError);
  for (const text of renderings(err)) for (const secret of secrets) expect(text, `"${secret}" leaked in: ${text}`).not.toContain(secret);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('credentials never leak from URL errors', () => {
  it('an unparseable URL: no password, user or raw input in message, stack, inspect, cause or properties', async () => {
    const raw = `amqp://${USER}:${PASSWORD}@host:56720x`;
    const err = await createBus({ url: raw, service: 's', logger: silentLogger }).catch((e: unknown) => e);
    expectNoLeak(err, [PASSWORD, USER, raw]);
    expect((err as Error).message).toMatch(/is not a valid URL/);
    expect((err as Error).message).toContain('host');
    // Node's URL TypeError carries the raw input as `input`; it must not ride along as the cause.
    expect((err as Error).cause).toBeUndefined();
  });

  it('a password containing "/" is hidden in the message (the authority ends at the first "/")', () => {
    for (const raw of [`amqp://${USER}:pa/${PASSWORD}@host:5672`, `amqp://${USER}:${PASSWORD}/x@host:5672/vhost`]) {
      const err = thrown(() => parseBusUrl(raw));
      expectNoLeak(err, [PASSWORD, USER]);
      expect((err as Error).message).toMatch(/%2F/);
    }
  });

  it('a password with "/", "?" or "#" after a numeric prefix parses as host:port/path and is still hidden', () => {
    for (const raw of [`amqp://${USER}:1234/${PASSWORD}@host:5672`, `amqp://${USER}:1234?${PASSWORD}@host:5672`, `amqp://${USER}:1234#${PASSWORD}@host:5672`]) {
      for (const text of [redactUrl(raw), redactUrl(new URL(raw))]) {
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain(USER);
        expect(text).toContain('host:5672');
      }
    }
  });

  it('token= and other secret query values are hidden in unparseable URLs', async () => {
    const raw = `amqp://${USER}:${PASSWORD}@host:1x?token=${TOKEN}&x=1`;
    const err = await createBus({ url: raw, service: 's', logger: silentLogger }).catch((e: unknown) => e);
    expectNoLeak(err, [PASSWORD, USER, TOKEN]);
    expect((err as Error).message).toContain('x=1');
    const keys = ['password', 'pass', 'pwd', 'Token', 'accessToken', 'secret', 'key', 'apiKey', 'credential', 'auth', 'sasl.password', 'passphrase', 'X-Amz-Signature'];
    for (const key of keys) {
      const text = redactUrl(`amqp://host:1x/v?a=1&${key}=${TOKEN}&b=2`);
      expect(text, key).not.toContain(TOKEN);
      expect(text, key).toContain(`${key}=***`);
    }
  });

  it('secret query values are hidden in comma-separated host lists, whichever host is bad', () => {
    const lists = [
      `kafka://${USER}:${PASSWORD}@k1:9092,,k2:9092?token=${TOKEN}`,
      `kafka://${USER}:${PASSWORD}@k1:bad,k2:9092?token=${TOKEN}`,
      `kafka://${USER}:${PASSWORD}@k1:9092,k2:bad?token=${TOKEN}`,
      `kafka://${USER}:${PASSWORD}@k1:9092,k2:99999?token=${TOKEN}`,
      `kafka://${USER}:pa/${PASSWORD}@k1:9092,k2:9092?token=${TOKEN}`,
    ];
    for (const raw of lists) {
      const err = thrown(() => parseBusUrl(raw));
      expectNoLeak(err, [PASSWORD, TOKEN]);
    }
    expect(redactUrl(`kafka://${USER}:${PASSWORD}@k1:9092,k2:9092?token=${TOKEN}&clientId=c`)).toBe(`kafka://***@k1:9092,k2:9092?token=***&clientId=c`);
  });

  it('a forgotten "@" does not print the password as a port', () => {
    const err = thrown(() => parseBusUrl(`amqp://guest:${PASSWORD}`));
    expectNoLeak(err, [PASSWORD]);
  });

  it('well-formed URLs keep their redaction: user shown, password and secret options hidden', () => {
    expect(redactUrl(`amqp://user:${PASSWORD}@host:5672/?token=${TOKEN}&x=1`)).toBe('amqp://user:***@host:5672/?token=***&x=1');
    expect(redactUrl(new URL(`amqps://user:${PASSWORD}@host/vh?passphrase=${TOKEN}`))).toBe('amqps://user:***@host/vh?passphrase=***');
    expect(redactUrl('memory://')).toBe('memory://');
    expect(redactUrl('kafka://127.0.0.1:9092?clientId=my-app')).toBe('kafka://127.0.0.1:9092?clientId=my-app');
    const parsed = parseBusUrl(`kafka://user:${PASSWORD}@k1:9092,k2:9092?token=${TOKEN}`);
    expect(redactUrl(parsed.url)).toBe('kafka://user:***@k1:9092?token=***');
  });

  it('well-formed URLs also hide pwd=, signature= and sig= values', () => {
    expect(redactUrl(`kafka://user:${PASSWORD}@k1:9092?pwd=${TOKEN}&signature=${TOKEN}&sig=${TOKEN}&clientId=c`)).toBe(
      'kafka://user:***@k1:9092?pwd=***&signature=***&sig=***&clientId=c',
    );
  });
});

describe('scrubSecrets / urlSecrets: one scrubber for every client message that may quote a password', () => {
  it('blanks the raw and the percent-decoded password wherever it appears', () => {
    const secrets = urlSecrets('postgres://app:p%40ss%2Fw0rd@db:5432/x');
    expect(secrets).toEqual(['p%40ss%2Fw0rd', 'p@ss/w0rd']);
    expect(scrubSecrets('auth failed for p@ss/w0rd (sent p%40ss%2Fw0rd)', secrets)).toBe('auth failed for *** (sent ***)');
  });

  it('has nothing to blank for URLs without a password or that do not parse, and ignores empty secrets', () => {
    expect(urlSecrets('redis://127.0.0.1:6379')).toEqual([]);
    expect(urlSecrets('not a url')).toEqual([]);
    expect(urlSecrets(undefined)).toEqual([]);
    expect(scrubSecrets('unchanged', ['', undefined])).toBe('unchanged');
  });
});
