/**
 * The relay's idle wait: ends on a NOTIFY hint, on the poll timer (the guarantee) or on stop.
 * A hint that arrives while the relay is busy is remembered, so rows committed during a batch
 * are picked up right after it rather than at the next poll.
 */
export class Wakeup {
  private hinted = false;
  private wake: (() => void) | undefined;

  hint(): void {
    this.hinted = true;
    this.wake?.();
  }

  /** Wait up to ms. `hints: false` waits out the time (backoff) and only stop ends it early. */
  wait(ms: number, signal: AbortSignal, hints = true): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    if (hints && this.hinted) {
      this.hinted = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.wake === onHint) this.wake = undefined;
        resolve();
      };
      const onHint = () => {
        if (!hints) return;
        this.hinted = false;
        done();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = onHint;
    });
  }
}
