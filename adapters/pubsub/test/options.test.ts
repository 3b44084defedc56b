/** URL options and the name rule: no broker needed. */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@switchyard/core';
import { MAX_ID_LENGTH, subscriptionId, topicId } from '../src/names.js';
import { parsePubSubUrl } from '../src/options.js';

const parse = (url: string, env: NodeJS.ProcessEnv = {}) => parsePubSubUrl(new URL(url), env);

describe('gcppubsub:// URL', () => {
  it('reads the project, the emulator and the defaults', () => {
    const s = parse('gcppubsub://switchyard-test?emulator=127.0.0.1:8085');
    expect(s).toMatchObject({ projectId: 'switchyard-test', emulator: '127.0.0.1:8085', ackDeadlineSeconds: 10, pullWaitMs: 3000, deadLetterBackstop: false });
    expect(parse('gcppubsub://my-project')).toMatchObject({ emulator: undefined, deadLetterBackstop: true });
    expect(parse('gcppubsub://my-project', { PUBSUB_EMULATOR_HOST: 'localhost:8681' }).emulator).toBe('localhost:8681');
    expect(parse('gcppubsub://my-project?emulator=[::1]:8085&ackDeadlineSeconds=60&deadLetterBackstop=false')).toMatchObject({
      emulator: '[::1]:8085',
      ackDeadlineSeconds: 60,
      deadLetterBackstop: false,
    });
  });

  it.each([
    ['gcppubsub://ab', /not a Google Cloud project id/],
    ['gcppubsub://My-Project', /not a Google Cloud project id/],
    ['gcppubsub://my-project:8085', /no port or path/],
    ['gcppubsub://my-project/extra', /no port or path/],
    ['gcppubsub://my-project?emulator=localhost', /host:port/],
    ['gcppubsub://my-project?ackDeadlineSeconds=5', /ackDeadlineSeconds/],
    ['gcppubsub://my-project?deadLetterBackstop=yes', /deadLetterBackstop/],
    ['gcppubsub://my-project?topicPrefix=x', /Unknown gcppubsub URL option "topicPrefix"/],
  ])('%s is a ConfigurationError', (url, message) => {
    expect(() => parse(url)).toThrow(ConfigurationError);
    expect(() => parse(url)).toThrow(message);
  });

  it('refuses credentials in the URL without showing them', () => {
    const err = (() => {
      try {
        parse('gcppubsub://user:s3cret-pw@my-project?emulator=127.0.0.1:8085');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err!.message).toMatch(/application default credentials/);
    expect(`${err!.message} ${inspect(err)}`).not.toContain('s3cret-pw');
  });

  it('a malformed PUBSUB_EMULATOR_HOST is a ConfigurationError', () => {
    expect(() => parse('gcppubsub://my-project', { PUBSUB_EMULATOR_HOST: 'not a host' })).toThrow(/PUBSUB_EMULATOR_HOST/);
  });
});

describe('Pub/Sub names', () => {
  const valid = /^(?!goog)[a-zA-Z][a-zA-Z0-9\-_.~+%]{2,254}$/;

  it('keeps names that are valid Pub/Sub ids and prefixes the rest with sy~', () => {
    expect(topicId('order.placed')).toBe('order.placed');
    expect(topicId('Orders')).toBe('Orders');
    expect(topicId('1orders')).toBe('sy~1orders');
    expect(topicId('ab')).toBe('sy~ab');
    expect(topicId('google.events')).toBe('sy~google.events');
    expect(topicId('GOOGLE')).toBe('sy~GOOGLE');
    expect(subscriptionId('order.placed', 'billing')).toBe('order.placed~billing');
    expect(subscriptionId('1x', '2y')).toBe('sy~1x~2y');
  });

  it('every id is valid and no two names share one, long ones included', () => {
    const topics = ['a', 'ab', 'abc', '1', '1ab', 'sy', 'sy-x', 'goog', 'googx', 'x'.repeat(200), 'y'.repeat(200), `${'x'.repeat(199)}y`, 'Ab', 'aB'];
    const groups = ['g', 'billing', '9', 'z'.repeat(200), `${'z'.repeat(199)}q`];
    const topicIds = new Set(topics.map(topicId));
    expect(topicIds.size).toBe(topics.length);
    const subs = new Set<string>();
    for (const t of topics) {
      expect(topicId(t)).toMatch(valid);
      for (const g of groups) {
        const id = subscriptionId(t, g);
        expect(id).toMatch(valid);
        expect(id.length).toBeLessThanOrEqual(MAX_ID_LENGTH);
        subs.add(id);
      }
    }
    expect(subs.size).toBe(topics.length * groups.length);
    // A shortened id carries "~~", which no full-length id contains.
    expect(subscriptionId('x'.repeat(200), 'z'.repeat(200))).toContain('~~');
    expect(subscriptionId('x'.repeat(200), 'g')).not.toContain('~~');
  });
});

describe('CloudEvents Pub/Sub binding on the way in', () => {
  it('reads content-type in any case, and ce-datacontenttype when content-type is absent', async () => {
    const { fromPubSub } = await import('../src/wire.js');
    expect(fromPubSub({ data: Buffer.from('{}'), attributes: { 'Content-Type': 'application/json', 'CE-ID': 'x' } }).headers).toEqual({
      'content-type': 'application/json',
      'ce-id': 'x',
    });
    expect(fromPubSub({ data: Buffer.from('{}'), attributes: { 'ce-datacontenttype': 'application/json' } }).headers).toEqual({ 'content-type': 'application/json' });
    expect(fromPubSub({ attributes: { 'content-type': 'text/plain', 'ce-datacontenttype': 'application/json' } }).headers).toEqual({ 'content-type': 'text/plain' });
    expect(fromPubSub({ data: Buffer.from('x'), orderingKey: 'k' })).toMatchObject({ key: 'k', headers: {} });
  });
});
