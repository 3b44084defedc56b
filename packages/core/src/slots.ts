/**
 * A counting semaphore: at most `size` holders at once, waiters served in arrival order.
 * The runner uses it to enforce `concurrency` itself, whatever the transport hands over.
 */
export class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  /** Take a free slot now without waiting (the usual case): true with a slot held, else false (then acquire()). */
  tryAcquire(): boolean {
    if (this.used >= this.size || this.waiting.length > 0) return false;
    this.used++;
    return true;
  }

  /** Resolves true with a slot held, or false if the signal aborted first (no slot held). */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = () => {
        signal.removeEventListener('abort', cancel);
        resolve(true);
      };
      const cancel = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(false);
      };
      this.waiting.push(grant);
      signal.addEventListener('abort', cancel, { once: true });
    });
  }

  release(): void {
    const next = this.waiting.shift();
    // Hand the slot straight to the next waiter: `used` stays the same.
    if (next) next();
    else this.used--;
  }
}
