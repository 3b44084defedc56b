/**
 * Redeliveries this process has seen, for transports whose broker keeps no delivery count
 * (capabilities.deliveryCount 'absent', e.g. Kafka) or keeps one that may lag ('approximate'):
 * keyed by the broker's stable identity of the message (Delivery.brokerId), so `attempt` still
 * grows when the same message comes back to this process. After a restart counting starts again
 * — documented as the capability's meaning.
 */
import { InternalHeader } from './codec.js';
import type { Delivery } from './spi.js';
import type { Capabilities } from './types.js';

/** Most messages remembered at once; the oldest are forgotten first. */
const MAX_TRACKED = 100_000;

export class RedeliveryCounter {
  private readonly counts = new Map<string, number>();

  /** The attempt this delivery is: the broker's exact count, else our own (never below an approximate broker count). */
  attempt(delivery: Delivery, counting: Capabilities['deliveryCount'], topic: string, group: string): number {
    return priorAttempts(delivery, group) + this.count(delivery, counting, topic, group);
  }

  private count(delivery: Delivery, counting: Capabilities['deliveryCount'], topic: string, group: string): number {
    if (counting === 'exact' || delivery.brokerId === undefined) return delivery.deliveryCount;
    const key = keyOf(topic, group, delivery.brokerId);
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.delete(key); // re-insert: Map order is then least recently seen first
    this.counts.set(key, count);
    if (this.counts.size > MAX_TRACKED) this.counts.delete(this.counts.keys().next().value!);
    return counting === 'approximate' ? Math.max(count, delivery.deliveryCount) : count;
  }

  /** The message left for good (acked, dead-lettered): nothing more to count. */
  forget(delivery: Delivery, topic: string, group: string): void {
    // Empty whenever the broker counts exactly: no key to build per ack then.
    if (delivery.brokerId !== undefined && this.counts.size > 0) this.counts.delete(keyOf(topic, group, delivery.brokerId));
  }
}

/** Attempts used before core republished this copy for `group` (see InternalHeader.priorAttempts). */
function priorAttempts(delivery: Delivery, group: string): number {
  const headers = delivery.message.headers;
  if (headers[InternalHeader.forGroup] !== group) return 0;
  const prior = Number(headers[InternalHeader.priorAttempts] ?? 0);
  return Number.isSafeInteger(prior) && prior > 0 ? prior : 0;
}

function keyOf(topic: string, group: string, brokerId: string): string {
  return `${topic}\0${group}\0${brokerId}`;
}
