/**
 * Fault injection for memory:// — what real brokers do to apps now and then, on demand, so an
 * app's own tests can prove its handlers survive it (see the core README, "Testing with faults").
 */
export interface MemoryFaults {
  /**
   * The next `count` messages published to `topic` reach every group twice, as after a publisher
   * retry whose first confirm was lost.
   */
  duplicate(topic: string, count?: number): void;
  /**
   * The next `count` acks on `topic` are lost, as when a consumer crashes right after its handler
   * finished: the handler ran, the broker never heard of it, and the message comes back.
   */
  loseAck(topic: string, count?: number): void;
  /** Messages published to `topic` reach the queues `ms` late, until cleared. */
  delay(topic: string, ms: number): void;
  /** The broker is unreachable for `ms`: publishes fail with ConnectionError and nothing is delivered. */
  down(ms: number): void;
  /** Remove every fault. */
  clear(): void;
}

/** The faults one memory broker applies; the broker asks it at each step. */
export class FaultPlan implements MemoryFaults {
  private readonly duplicates = new Map<string, number>();
  private readonly lostAcks = new Map<string, number>();
  private readonly delays = new Map<string, number>();
  private downUntil = 0;
  private readonly upListeners = new Set<() => void>();
  private upTimer: NodeJS.Timeout | undefined;

  duplicate(topic: string, count = 1): void {
    this.duplicates.set(topic, (this.duplicates.get(topic) ?? 0) + positive(count, 'count'));
  }

  loseAck(topic: string, count = 1): void {
    this.lostAcks.set(topic, (this.lostAcks.get(topic) ?? 0) + positive(count, 'count'));
  }

  delay(topic: string, ms: number): void {
    this.delays.set(topic, positive(ms, 'ms'));
  }

  down(ms: number): void {
    this.downUntil = Math.max(this.downUntil, Date.now() + positive(ms, 'ms'));
    this.wakeUpWhenBack();
  }

  /**
   * Timers run on the event loop's monotonic clock, which can reach a timer's due time a moment
   * before Date.now() (what isDown reads) passes downUntil: waking up then found the broker still
   * down and dispatched nothing, and nothing woke it again. So a timer that fires early waits out
   * the rest.
   */
  private wakeUpWhenBack(): void {
    clearTimeout(this.upTimer);
    this.upTimer = setTimeout(() => (this.isDown ? this.wakeUpWhenBack() : this.wakeUp()), Math.max(1, this.downUntil - Date.now()));
    this.upTimer.unref();
  }

  clear(): void {
    this.duplicates.clear();
    this.lostAcks.clear();
    this.delays.clear();
    if (this.downUntil > 0) {
      this.downUntil = 0;
      clearTimeout(this.upTimer);
      this.wakeUp();
    }
  }

  get isDown(): boolean {
    return Date.now() < this.downUntil;
  }

  /** Called when the broker comes back (dispatch resumes). Returns what stops the calls. */
  onUp(listener: () => void): () => void {
    this.upListeners.add(listener);
    return () => this.upListeners.delete(listener);
  }

  /** How many copies of this publish to enqueue (1, or 2 while a duplicate fault is armed). */
  copiesFor(topic: string): number {
    return take(this.duplicates, topic) ? 2 : 1;
  }

  /** True if this ack is to be lost. */
  loseThisAck(topic: string): boolean {
    return take(this.lostAcks, topic);
  }

  extraDelay(topic: string): number {
    return this.delays.get(topic) ?? 0;
  }

  private wakeUp(): void {
    for (const listener of this.upListeners) listener();
  }
}

function take(counts: Map<string, number>, topic: string): boolean {
  const left = counts.get(topic) ?? 0;
  if (left <= 0) return false;
  if (left === 1) counts.delete(topic);
  else counts.set(topic, left - 1);
  return true;
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer; got ${String(value)}.`);
  return value;
}
