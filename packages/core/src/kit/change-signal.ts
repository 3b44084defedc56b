/**
 * Wake-ups for loops that wait for something to change (a slot or key freed, a message queued):
 * notify() wakes everyone waiting now; wait(ms) resolves on the next notify, at the latest after
 * ms, or when the signal aborts, so a loop can do periodic work (heartbeats) while it waits.
 * A wake-up is a hint: the loop checks its condition again.
 *
 * Waits without an abort signal share one promise until the next wake-up, and one timer: a busy
 * consumer waits once per message, and a promise, closure and timer per waiter per message were
 * a measurable share of its allocations and CPU. The timer stays armed across wake-ups (unref'd
 * while nobody waits) and fires at the earliest time a waiter asked for, so a wait may end
 * sooner than its ms, which a hint allows.
 */
export class ChangeSignal {
  /** Waits with an abort signal: each ends on its own. */
  private readonly waiters = new Set<() => void>();
  private shared: SharedWait | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt = 0;

  /** Loops waiting now. */
  get waiting(): number {
    return this.waiters.size + (this.shared?.count ?? 0);
  }

  notify(): void {
    this.wakeShared();
    this.timer?.unref(); // nobody waits now: an armed timer must not keep the process alive
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal === undefined) return this.waitShared(ms);
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  private waitShared(ms: number): Promise<void> {
    const dueAt = Date.now() + ms;
    if (this.timer === undefined || dueAt < this.timerDueAt) {
      clearTimeout(this.timer);
      this.timerDueAt = dueAt;
      this.timer = setTimeout(this.onTimer, ms);
    } else {
      this.timer.ref();
    }
    if (this.shared === undefined) {
      let wake!: () => void;
      const promise = new Promise<void>((resolve) => {
        wake = resolve;
      });
      this.shared = { promise, wake, count: 0 };
    }
    this.shared.count++;
    return this.shared.promise;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.wakeShared();
  };

  private wakeShared(): void {
    const shared = this.shared;
    if (shared === undefined) return;
    this.shared = undefined;
    shared.wake();
  }
}

interface SharedWait {
  readonly promise: Promise<void>;
  readonly wake: () => void;
  count: number;
}
