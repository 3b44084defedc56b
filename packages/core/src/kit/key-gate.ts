/**
 * Per-key ordering for brokers that hand out several messages at once: a message is handed out
 * only while no other message with the same key is in flight; keyless messages never wait.
 * The memory broker gates each group's queue with it, the Kafka adapter each partition.
 */
export class KeyGate {
  /** Messages in flight per key (more than one only where a caller lets a key through twice). */
  private readonly inFlight = new Map<string, number>();

  /** Whether a message with this key must wait (never for undefined). */
  isBusy(key: string | undefined): boolean {
    return key !== undefined && this.inFlight.has(key);
  }

  /** A message with this key went out. */
  take(key: string | undefined): void {
    if (key !== undefined) this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
  }

  /** A message with this key was settled (or came back): the next one of the key may go. */
  release(key: string | undefined): void {
    if (key === undefined) return;
    const count = (this.inFlight.get(key) ?? 1) - 1;
    if (count <= 0) this.inFlight.delete(key);
    else this.inFlight.set(key, count);
  }

  /** Keys with a message in flight. */
  get size(): number {
    return this.inFlight.size;
  }
}
