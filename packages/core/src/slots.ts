/**
 * A counting semaphore: at most `size` holders at once, waiters served in arrival order.
 * The runner uses it to enforce `concurrency` itself, whatever the transport hands over.
 * Once `stop` aborts, every waiter gets false and no slot; one abort listener serves them all
 * (at concurrency 1 nearly every delivery waits, and a listener added and removed per waiter
 * was a measurable cost per message).
 */
export class Slots {
  private used = 0;
  private readonly waiting: ((granted: boolean) => void)[] = [];

  constructor(
    private readonly size: number,
    private readonly stop: AbortSignal,
  ) {
    stop.addEventListener('abort', () => this.refuseAll(), { once: true });
  }

  /** Take a free slot now without waiting (the usual case): true with a slot held, else false (then acquire()). */
  tryAcquire(): boolean {
    if (this.used >= this.size || this.waiting.length > 0) return false;
    this.used++;
    return true;
  }

  /** Resolves true with a slot held, or false once stopped (no slot held). */
  acquire(): Promise<boolean> {
    if (this.stop.aborted) return Promise.resolve(false);
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    // Hand the slot straight to the next waiter: `used` stays the same.
    if (next) next(true);
    else this.used--;
  }

  private refuseAll(): void {
    for (const refuse of this.waiting.splice(0)) refuse(false);
  }
}
