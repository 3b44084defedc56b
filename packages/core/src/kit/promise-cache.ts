/**
 * Create-once for adapters (a connection, a declared topic or queue, a consumer group's start
 * offsets): callers asking for a key while it is being created share that attempt; a success is
 * kept, a failure is forgotten, so the next caller tries again instead of getting a stale error.
 */
export class PromiseCache<K, V> {
  private readonly entries = new Map<K, Promise<V>>();

  get(key: K, create: (key: K) => Promise<V>): Promise<V> {
    const kept = this.entries.get(key);
    if (kept !== undefined) return kept;
    const created = (async () => create(key))();
    this.entries.set(key, created);
    created.catch(() => {
      if (this.entries.get(key) === created) this.entries.delete(key);
    });
    return created;
  }

  /** Forget `key` (the next get creates it again); returns what was kept, to dispose of it. */
  delete(key: K): Promise<V> | undefined {
    const kept = this.entries.get(key);
    this.entries.delete(key);
    return kept;
  }

  /** Forget everything; returns what was kept (settled or still being created), to dispose of it. */
  clear(): Promise<V>[] {
    const kept = [...this.entries.values()];
    this.entries.clear();
    return kept;
  }
}
