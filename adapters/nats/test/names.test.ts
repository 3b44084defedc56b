import { describe, expect, it } from 'vitest';
import { escapeName, MAX_NAME, names } from '../src/names.js';

const n = names('switchyard');

describe('JetStream names', () => {
  it('subjects keep the topic where NATS can; streams and consumers escape "." and "_"', () => {
    expect(n.subject('order.placed')).toBe('switchyard.order.placed');
    expect(n.stream('order.placed')).toBe('switchyard_order_2Eplaced');
    expect(n.consumer('billing_v2')).toBe('billing_5Fv2');
    // Empty subject tokens are not allowed: such topics become one "~" token.
    expect(n.subject('a..b')).toBe('switchyard.~a_2E_2Eb');
    expect(n.subject('a.')).toBe('switchyard.~a_2E');
  });

  it('direct-request subjects are two tokens after the prefix, so no topic subject (and no stream) is one', () => {
    expect(n.direct('order.placed')).toBe('switchyard.~req.order_2Eplaced');
    const topics = ['req', '~req', 'a.b', 'a..b', 'req.a_2Eb'];
    const subjects = new Set(topics.map(n.subject));
    for (const t of topics) expect(subjects.has(n.direct(t)), t).toBe(false);
    expect(new Set(['a.b', 'a_b', 'a..b'].map(n.direct)).size).toBe(3);
  });

  it('never collides, also for names that look like escapes', () => {
    const topics = ['a.b', 'a_b', 'a_2Eb', 'a_2eb', 'a__b', 'a._b', 'a_.b', 'a..b', 'a.', 'a-b', 'A.b', 'a_5Fb', 'a-b.c'];
    for (const make of [n.stream, n.consumer, n.subject]) {
      const out = topics.map(make);
      expect(new Set(out).size, make.name).toBe(topics.length);
    }
  });

  it('long names are cut and hashed, and stay distinct and within limits', () => {
    const long = (c: string) => `${'x'.repeat(190)}.${c}`.slice(0, 200);
    const a = n.stream(long('a.a.a.a.a'));
    const b = n.stream(long('a.a.a.a.b'));
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(255);
    expect(escapeName('.'.repeat(200)).length).toBeLessThanOrEqual(MAX_NAME);
    expect(escapeName('.'.repeat(200))).toMatch(/_H[0-9a-f]{32}$/);
    // A hashed name is never an unhashed one: "_H" is no escape.
    expect(escapeName('x'.repeat(200))).toBe('x'.repeat(200));
  });

  it('names hold no character JetStream refuses', () => {
    for (const topic of ['a.b', 'a..b', 'x'.repeat(200), `${'.'.repeat(100)}a`]) {
      expect(n.stream(topic)).not.toMatch(/[\s.*>/\\]/);
      expect(n.consumer(topic)).not.toMatch(/[\s.*>/\\]/);
      expect(
        n
          .subject(topic)
          .split('.')
          .every((t) => t.length > 0 && !/[\s*>]/.test(t)),
      ).toBe(true);
    }
  });
});
