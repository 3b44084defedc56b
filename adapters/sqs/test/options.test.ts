import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createBus, silentLogger } from '@switchyard/core';
import { LOCAL_CREDENTIALS, parseSqsUrl } from '../src/options.js';
import { QueueNames, MAX_QUEUE_NAME } from '../src/names.js';

describe('sqs URL options', () => {
  it('a loopback URL works as is: plain http on 9324, us-east-1, local test credentials', () => {
    const s = parseSqsUrl(new URL('sqs://127.0.0.1:9324'), {});
    expect(s.endpoint).toBe('http://127.0.0.1:9324');
    expect(s.region).toBe('us-east-1');
    expect(s.credentials).toEqual(LOCAL_CREDENTIALS);
    expect(parseSqsUrl(new URL('sqs://localhost'), {}).endpoint).toBe('http://localhost:9324');
    expect(s.leaseMs).toBe(30_000);
    expect(s.options.fifo).toBe(false);
  });

  it('configured AWS credentials are used on loopback too (the standard chain)', () => {
    expect(parseSqsUrl(new URL('sqs://127.0.0.1:9324'), { AWS_ACCESS_KEY_ID: 'AKIA' }).credentials).toBeUndefined();
    expect(parseSqsUrl(new URL('sqs://127.0.0.1:9324'), { AWS_PROFILE: 'dev' }).credentials).toBeUndefined();
  });

  it('real AWS: no host = the region endpoint, a host = https, the standard credential chain', () => {
    const aws = parseSqsUrl(new URL('sqs://?region=eu-west-1&fifo=true'), {});
    expect(aws.endpoint).toBeUndefined();
    expect(aws.region).toBe('eu-west-1');
    expect(aws.credentials).toBeUndefined();
    expect(aws.options.fifo).toBe(true);
    expect(parseSqsUrl(new URL('sqs://sqs.eu-west-1.amazonaws.com'), {}).endpoint).toBe('https://sqs.eu-west-1.amazonaws.com');
    expect(parseSqsUrl(new URL('sqs://sqs.eu-west-1.amazonaws.com'), {}).region).toBeUndefined();
    expect(parseSqsUrl(new URL('sqs://emq.internal:9324?tls=false'), {}).endpoint).toBe('http://emq.internal:9324');
  });

  it('bad and unknown options, paths and user info are ConfigurationErrors that never show a secret', () => {
    const bad = [
      'sqs://127.0.0.1:9324?visibilityTimeout=1',
      'sqs://127.0.0.1:9324?waitTimeSeconds=21',
      'sqs://127.0.0.1:9324?fifo=yes',
      'sqs://127.0.0.1:9324?prefix=a_b',
      'sqs://127.0.0.1:9324?region=mars',
      'sqs://127.0.0.1:9324?secretKey=hunter2',
      'sqs://127.0.0.1:9324/queue',
      'sqs://?tls=false',
      'sqs://AKIAEXAMPLE:hunter2@127.0.0.1:9324',
    ];
    for (const url of bad) {
      let caught: unknown;
      try {
        parseSqsUrl(new URL(url), {});
      } catch (err) {
        caught = err;
      }
      expect(caught, url).toBeInstanceOf(ConfigurationError);
      expect(inspect(caught, { depth: 5 }), url).not.toContain('hunter2');
    }
  });

  it('createBus refuses credentials in the URL without echoing them', async () => {
    const err = await createBus({ url: 'sqs://AKIAEXAMPLE:s3cr3t@127.0.0.1:9324', service: 's', logger: silentLogger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(inspect(err, { depth: 5 })).not.toContain('s3cr3t');
  });
});

describe('queue names', () => {
  const names = new QueueNames('sy', false);
  const fifo = new QueueNames('sy', true);
  const valid = /^[A-Za-z0-9_-]{1,80}$/;

  it('are valid SQS names, readable, and carry the topic prefix', () => {
    const name = names.groupQueue('order.placed', 'billing_v2');
    expect(name).toMatch(valid);
    expect(name.startsWith(names.topicPrefix('order.placed'))).toBe(true);
    expect(name).toMatch(/^sy_order-placed_[0-9a-f]{16}_[0-9a-f]{12}_billing-v2$/);
    const f = fifo.groupQueue('order.placed', 'billing');
    expect(f.endsWith('.fifo')).toBe(true);
    expect(f.slice(0, -5)).toMatch(valid);
    expect(fifo.isOurs(`http://h/1/${f}`)).toBe(true);
    expect(names.isOurs(`http://h/1/${f}`)).toBe(false);
  });

  it('the longest portable names still fit 80 characters', () => {
    const topic = `t${'x'.repeat(199)}`;
    const group = `g${'y'.repeat(199)}`;
    expect(names.groupQueue(topic, group).length).toBeLessThanOrEqual(MAX_QUEUE_NAME);
    expect(fifo.groupQueue(topic, group).length).toBeLessThanOrEqual(MAX_QUEUE_NAME);
    expect(new QueueNames('abcdefghijkl', true).groupQueue(topic, group).length).toBeLessThanOrEqual(MAX_QUEUE_NAME);
  });

  it('never collide where the readable parts do, and no topic lists another topic’s queues', () => {
    const pairs: [string, string][] = [
      ['a.b', 'g'],
      ['a_b', 'g'],
      ['a-b', 'g'],
      ['A-b', 'g'],
      ['a.b', 'g.1'],
      ['a.b', 'g_1'],
      ['a', 'b_c'],
      ['a_b', 'c'],
      [`${'x'.repeat(30)}1`, 'g'],
      [`${'x'.repeat(30)}2`, 'g'],
      ['t', `${'y'.repeat(60)}1`],
      ['t', `${'y'.repeat(60)}2`],
    ];
    const queues = pairs.map(([t, g]) => names.groupQueue(t, g));
    expect(new Set(queues).size).toBe(pairs.length);
    pairs.forEach(([topic], i) => {
      const listed = queues.filter((q) => q.startsWith(names.topicPrefix(topic)));
      const own = pairs.map(([t], j) => (t === topic ? queues[j] : undefined)).filter(Boolean);
      expect(listed, `${topic} (${i})`).toEqual(own);
    });
  });
});
