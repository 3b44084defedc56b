/**
 * Timeouts for many operations of one fixed length (publish confirms) with one timer, not one
 * each: entries expire in the order they were added, so a sweep walks the insertion-ordered set
 * from its oldest entry and stops at the first one not yet due. The timer runs only while
 * something is outstanding and never keeps the process alive. An entry fires at most `periodMs`
 * late.
 */
export interface Deadline {
  /** Settled in time: forget it. */
  clear(): void;
}

/** One timeout, its own handle (one object per operation, not an entry, a handle and a closure). */
class Entry implements Deadline {
  constructor(
    private readonly entries: Set<Entry>,
    readonly dueAt: number,
    readonly expire: () => void,
  ) {}

  clear(): void {
    this.entries.delete(this);
  }
}

export class Deadlines {
  private readonly entries = new Set<Entry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly withinMs: number,
    private readonly periodMs = Math.max(10, Math.min(1000, Math.floor(withinMs / 4))),
  ) {}

  /** Call `expire` if clear() was not called within `withinMs`. */
  add(expire: () => void): Deadline {
    const entry = new Entry(this.entries, Date.now() + this.withinMs, expire);
    this.entries.add(entry);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.periodMs);
      this.timer.unref();
    }
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const entry of this.entries) {
      if (entry.dueAt > now) break;
      this.entries.delete(entry);
      entry.expire();
    }
    if (this.entries.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
