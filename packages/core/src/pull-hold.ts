/**
 * Emulated delay for pull(): a pulled delivery whose `ce-notbefore` lies ahead is held here
 * rather than handed to the app, and handed out by a later pull once due. One still not due
 * after EMULATED_DELAY_HOLD_MS is replaced by a copy for its group (as subscriptions do), so a
 * long delay neither pins a delivery nor spins republishing on every pull.
 */
import { dueAtFor, EMULATED_DELAY_HOLD_MS } from './group-copy.js';
import type { Delivery } from './spi.js';

interface Held {
  readonly delivery: Delivery;
  readonly dueAt: number;
  readonly timer: NodeJS.Timeout;
}

export type Replace = (topic: string, group: string, delivery: Delivery, dueAt: number) => Promise<void>;

export class PullHold {
  private readonly held = new Map<string, Held[]>();

  /** How long a delivery may be held: on a lease-based broker well inside its lease, which nobody extends here. */
  private readonly maxHoldMs: number;

  constructor(
    private readonly replace: Replace,
    leaseMs: number | undefined,
  ) {
    this.maxHoldMs = leaseMs === undefined ? EMULATED_DELAY_HOLD_MS : Math.min(EMULATED_DELAY_HOLD_MS, Math.floor(leaseMs / 3));
  }

  /**
   * Up to `max` due deliveries within `waitMs`, fetching through `fetch(max, waitMs)` and holding
   * what is not due yet; returns early with whatever held delivery falls due first.
   */
  async pull(
    topic: string,
    group: string,
    max: number,
    waitMs: number,
    signal: AbortSignal | undefined,
    fetch: (max: number, waitMs: number) => Promise<Delivery[]>,
  ): Promise<Delivery[]> {
    const key = `${topic}\0${group}`;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const due = this.takeDue(key, max);
      if (due.length > 0) return due;
      const wait = Math.max(0, Math.min(deadline - Date.now(), this.nextDueIn(key)));
      const ready: Delivery[] = [];
      for (const delivery of await fetch(max, wait)) {
        const dueAt = dueAtFor(delivery.message, group);
        if (dueAt > Date.now()) this.hold(key, topic, group, delivery, dueAt);
        else ready.push(delivery);
      }
      if (ready.length > 0 || Date.now() >= deadline || signal?.aborted) return [...ready, ...this.takeDue(key, max - ready.length)];
    }
  }

  /** Back to the broker: nothing held was handed out. */
  async close(): Promise<void> {
    const all = [...this.held.values()].flat();
    this.held.clear();
    for (const h of all) clearTimeout(h.timer);
    await Promise.allSettled(all.map((h) => h.delivery.abandon()));
  }

  private hold(key: string, topic: string, group: string, delivery: Delivery, dueAt: number): void {
    const timer = setTimeout(
      () => {
        if (dueAt <= Date.now() || !this.remove(key, entry)) return; // due: the next pull takes it
        this.replace(topic, group, delivery, dueAt).catch(() => delivery.abandon().catch(() => undefined));
      },
      Math.min(dueAt - Date.now(), this.maxHoldMs),
    );
    timer.unref();
    const entry: Held = { delivery, dueAt, timer };
    const list = this.held.get(key) ?? [];
    list.push(entry);
    this.held.set(key, list);
  }

  private takeDue(key: string, max: number): Delivery[] {
    const list = this.held.get(key);
    if (!list || max <= 0) return [];
    const now = Date.now();
    const due = list.filter((h) => h.dueAt <= now).slice(0, max);
    for (const h of due) {
      clearTimeout(h.timer);
      this.remove(key, h);
    }
    return due.map((h) => h.delivery);
  }

  private remove(key: string, entry: Held): boolean {
    const list = this.held.get(key);
    const index = list?.indexOf(entry) ?? -1;
    if (index < 0) return false;
    list!.splice(index, 1);
    if (list!.length === 0) this.held.delete(key);
    return true;
  }

  private nextDueIn(key: string): number {
    const list = this.held.get(key);
    if (!list) return Number.POSITIVE_INFINITY;
    return Math.min(...list.map((h) => h.dueAt)) - Date.now();
  }
}
