/**
 * Redeliveries this process has seen, for transports whose broker keeps no delivery count
 * (capabilities.deliveryCount false, e.g. Kafka): keyed by the broker's stable identity of the
 * message (Delivery.brokerId), so `attempt` still grows when the same message comes back to this
 * process. After a restart counting starts again — documented as the capability's meaning.
 */
import type { Delivery } from './spi.js';

/** Most messages remembered at once; the oldest are forgotten first. */
const MAX_TRACKED = 100_000;

export class RedeliveryCounter {
  private readonly counts = new Map<string, number>();

  /** The attempt this delivery is: the broker's count when it keeps one, else our own. */
  attempt(delivery: Delivery, brokerCounts: boolean, topic: string, group: string): number {
    if (brokerCounts || delivery.brokerId === undefined) return delivery.deliveryCount;
    const key = keyOf(topic, group, delivery.brokerId);
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.delete(key); // re-insert: Map order is then least recently seen first
    this.counts.set(key, count);
    if (this.counts.size > MAX_TRACKED) this.counts.delete(this.counts.keys().next().value!);
    return count;
  }

  /** The message left for good (acked, dead-lettered): nothing more to count. */
  forget(delivery: Delivery, topic: string, group: string): void {
    if (delivery.brokerId !== undefined) this.counts.delete(keyOf(topic, group, delivery.brokerId));
  }
}

function keyOf(topic: string, group: string, brokerId: string): string {
  return `${topic}\0${group}\0${brokerId}`;
}
