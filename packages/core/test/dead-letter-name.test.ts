import { describe, expect, it } from 'vitest';
import { deadLetterTopicOf, NonRetryableError, PORTABLE_NAME, ValidationError, type Message } from '../src/index.js';
import { memoryBus, waitFor } from './helpers.js';

const name = (length: number, fill = 'a') => `t${fill.repeat(length - 1)}`;

describe('deadLetterTopicOf', () => {
  it('is `<topic>.dlq` for topics of up to 196 characters', () => {
    expect(deadLetterTopicOf('orders')).toBe('orders.dlq');
    expect(deadLetterTopicOf(name(196))).toBe(`${name(196)}.dlq`);
  });

  it('stays a portable name of at most 200 characters for longer topics, without collisions', () => {
    for (const length of [197, 199, 200]) {
      const dlq = deadLetterTopicOf(name(length));
      expect(dlq.length).toBeLessThanOrEqual(200);
      expect(dlq).toMatch(PORTABLE_NAME);
      expect(dlq.endsWith('.dlq')).toBe(true);
      expect(dlq.startsWith(name(length).slice(0, 179))).toBe(true);
      expect(deadLetterTopicOf(name(length))).toBe(dlq); // a fixed rule: anyone can find the DLQ
    }
    // Differing only past the kept prefix, or only in length: still different DLQs.
    const a = `${name(199)}a`;
    const b = `${name(199)}b`;
    expect(deadLetterTopicOf(a)).not.toBe(deadLetterTopicOf(b));
    expect(deadLetterTopicOf(name(197))).not.toBe(deadLetterTopicOf(name(198)));
  });

  it('rejects a non-portable topic', () => {
    expect(() => deadLetterTopicOf('no spaces')).toThrow(ValidationError);
  });
});

describe('a 200-character topic', () => {
  it('can be subscribed, and its dead letters land in deadLetterTopicOf(topic)', async () => {
    const bus = await memoryBus();
    const topic = name(200, 'x');
    const dead: Message[] = [];
    await bus.subscribe(deadLetterTopicOf(topic), (m) => void dead.push(m));
    await bus.subscribe(topic, () => {
      throw new NonRetryableError('no');
    });
    const { id } = await bus.publish(topic, { n: 1 });
    await waitFor(dead, 1);
    expect(dead[0]!.id).toBe(id);
    expect(dead[0]!.headers['x-switchyard-original-topic']).toBe(topic);
    await bus.close();
  });
});
