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

/** Most messages remembered at once per topic and group; the oldest are forgotten first. */
const MAX_TRACKED = 100_000;

/** One bus's counts: one scope per (topic, group), shared by that group's subscriptions and pulls. */
export class RedeliveryCounter {
  private readonly scopes = new Map<string, RedeliveryScope>();

  /** The counts of `group` on `topic` (a runner keeps its scope: no key is built per message). */
  scope(topic: string, group: string): RedeliveryScope {
    const key = `${topic}\0${group}`;
    let scope = this.scopes.get(key);
    if (scope === undefined) {
      scope = new RedeliveryScope(group);
      this.scopes.set(key, scope);
    }
    return scope;
  }
}

/**
 * The counts of one (topic, group), keyed by brokerId alone: a key of its own per scope cost
 * building and hashing a long string twice per message (npm run bench, Kafka consumer profile).
 */
export class RedeliveryScope {
  private readonly counts = new Map<string, number>();

  constructor(private readonly group: string) {}

  /** The attempt this delivery is: the broker's exact count, else our own (never below an approximate broker count). */
  attempt(delivery: Delivery, counting: Capabilities['deliveryCount']): number {
    return priorAttempts(delivery, this.group) + this.count(delivery, counting);
  }

  private count(delivery: Delivery, counting: Capabilities['deliveryCount']): number {
    const id = delivery.brokerId;
    if (counting === 'exact' || id === undefined) return delivery.deliveryCount;
    const seen = this.counts.get(id);
    const count = (seen ?? 0) + 1;
    if (seen !== undefined) this.counts.delete(id); // re-insert: Map order is then least recently seen first
    this.counts.set(id, count);
    if (this.counts.size > MAX_TRACKED) this.counts.delete(this.counts.keys().next().value!);
    return counting === 'approximate' ? Math.max(count, delivery.deliveryCount) : count;
  }

  /** The message left for good (acked, dead-lettered): nothing more to count. */
  forget(delivery: Delivery): void {
    // Empty whenever the broker counts exactly: nothing to look up per ack then.
    if (delivery.brokerId !== undefined && this.counts.size > 0) this.counts.delete(delivery.brokerId);
  }
}

/** Attempts used before core republished this copy for `group` (see InternalHeader.priorAttempts). */
function priorAttempts(delivery: Delivery, group: string): number {
  const headers = delivery.message.headers;
  if (headers[InternalHeader.forGroup] !== group) return 0;
  const prior = Number(headers[InternalHeader.priorAttempts] ?? 0);
  return Number.isSafeInteger(prior) && prior > 0 ? prior : 0;
}
