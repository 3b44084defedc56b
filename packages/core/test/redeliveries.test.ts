import { describe, expect, it } from 'vitest';
import { InternalHeader } from '../src/codec.js';
import { RedeliveryCounter } from '../src/redeliveries.js';
import type { Delivery } from '../src/spi.js';

/** A delivery as a transport without a broker count hands it over (Kafka: always 1, a stable brokerId). */
function delivery(brokerId: string | undefined, deliveryCount = 1, headers: Record<string, string> = {}): Delivery {
  const settled = async () => undefined;
  return { message: { body: new Uint8Array(), headers }, deliveryCount, brokerId, ack: settled, nack: settled, abandon: settled };
}

describe('redelivery counts kept by core (transports whose broker counts no deliveries)', () => {
  it('counts each sighting of a brokerId within a topic and group, and starts over once the message is forgotten', () => {
    const counts = new RedeliveryCounter().scope('orders', 'billing');
    expect(counts.attempt(delivery('0:7'), 'absent')).toBe(1);
    expect(counts.attempt(delivery('0:7'), 'absent')).toBe(2);
    expect(counts.attempt(delivery('1:7'), 'absent')).toBe(1);
    counts.forget(delivery('0:7'));
    expect(counts.attempt(delivery('0:7'), 'absent')).toBe(1);
  });

  it("keeps one group's counts apart from another's, and shares them between a group's subscription and its pulls", () => {
    const counter = new RedeliveryCounter();
    expect(counter.scope('orders', 'billing')).toBe(counter.scope('orders', 'billing'));
    counter.scope('orders', 'billing').attempt(delivery('0:7'), 'absent');
    expect(counter.scope('orders', 'shipping').attempt(delivery('0:7'), 'absent')).toBe(1);
    expect(counter.scope('invoices', 'billing').attempt(delivery('0:7'), 'absent')).toBe(1);
    expect(counter.scope('orders', 'billing').attempt(delivery('0:7'), 'absent')).toBe(2);
  });

  it("uses the broker's exact count, never goes below an approximate one, and adds the attempts a copy for this group carries", () => {
    const counts = new RedeliveryCounter().scope('orders', 'billing');
    expect(counts.attempt(delivery('0:7', 4), 'exact')).toBe(4);
    expect(counts.attempt(delivery('0:8', 3), 'approximate')).toBe(3);
    expect(counts.attempt(delivery('0:8', 1), 'approximate')).toBe(2);
    const copy = { [InternalHeader.forGroup]: 'billing', [InternalHeader.priorAttempts]: '2' };
    expect(counts.attempt(delivery('0:9', 1, copy), 'absent')).toBe(3);
    expect(counts.attempt(delivery(undefined, 5), 'absent')).toBe(5);
  });
});
