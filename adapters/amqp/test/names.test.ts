import { describe, expect, it } from 'vitest';
import { PORTABLE_NAME } from '@switchyard/core';
import { delayBucket, groupQueueName, MAX_AMQP_NAME_BYTES, names } from '../src/names.js';

describe('amqp naming rule', () => {
  it('maps (topic, group) to <prefix>/<topic>/<group>', () => {
    expect(groupQueueName('switchyard', 'order.placed', 'billing')).toBe('switchyard/order.placed/billing');
    const n = names('acme');
    expect(n.topicsExchange).toBe('acme.topics');
    expect(n.delayExchange).toBe('acme.delay');
    expect(n.delayQueue(1024)).toBe('acme/~delay/1024');
  });

  it('never collides where a dot-joined rule would', () => {
    expect(groupQueueName('p', 'a.b', 'c')).not.toBe(groupQueueName('p', 'a', 'b.c'));
    expect(groupQueueName('p', 'a-b', 'c')).not.toBe(groupQueueName('p', 'a', 'b-c'));
    expect(groupQueueName('p', 'A', 'b')).not.toBe(groupQueueName('p', 'a', 'b'));
  });

  it('is injective on a sample of awkward names, and internal queues never look like group queues', () => {
    const parts = ['a', 'b', 'a.b', 'b.c', 'a_b', 'a-b', 'delay', '~delay', 'inbox', 'x'.repeat(200), `${'x'.repeat(199)}y`, 'y'.repeat(200)].filter((p) => PORTABLE_NAME.test(p));
    const seen = new Map<string, string>();
    for (const topic of parts) {
      for (const group of parts) {
        const name = groupQueueName('switchyard', topic, group);
        const pair = `${topic}|${group}`;
        expect(seen.get(name) ?? pair, name).toBe(pair);
        seen.set(name, pair);
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_AMQP_NAME_BYTES);
        expect(name.split('/')[1]).not.toMatch(/^~/);
      }
    }
    const n = names('switchyard');
    for (const internal of [n.delayQueue(64)]) expect(seen.has(internal)).toBe(false);
  });

  it('hashes names over 255 bytes into a 4-segment form no unhashed name can take', () => {
    const topic = 't'.repeat(200);
    const group = 'g'.repeat(200);
    const name = groupQueueName('switchyard', topic, group);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).toMatch(/^switchyard\/t{80}\/g{80}\/~[0-9a-f]{32}$/);
    expect(groupQueueName('switchyard', topic, `${'g'.repeat(199)}h`)).not.toBe(name);
    // Right at the limit: no hashing.
    const fits = groupQueueName('switchyard', 'a'.repeat(200), 'b'.repeat(255 - 'switchyard//'.length - 200));
    expect(fits).not.toContain('~');
    expect(Buffer.byteLength(fits)).toBe(255);
  });

  it('rounds delays up to power-of-two buckets', () => {
    expect(delayBucket(1)).toBe(1);
    expect(delayBucket(0.2)).toBe(1);
    expect(delayBucket(100)).toBe(128);
    expect(delayBucket(128)).toBe(128);
    expect(delayBucket(129)).toBe(256);
    expect(delayBucket(86_400_000)).toBe(2 ** 27);
  });
});
