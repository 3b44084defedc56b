/**
 * Wake-ups for loops that wait for something to change (a slot or key freed, a message queued):
 * notify() wakes everyone waiting now; wait(ms) resolves on the next notify, after ms, or when the
 * signal aborts, whichever is first, so a loop can do periodic work (heartbeats) while it waits.
 * A wake-up is a hint: the loop checks its condition again.
 */
export class ChangeSignal {
  private readonly waiters = new Set<() => void>();

  /** Loops waiting now. */
  get waiting(): number {
    return this.waiters.size;
  }

  notify(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }
}
