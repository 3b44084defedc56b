/**
 * Idempotent handling: a store claims a key before the handler runs, marks it done after, and
 * releases it if the handler fails. Implementations must make `claim` atomic across processes.
 */
export type ClaimResult =
  | { readonly status: 'claimed' }
  /** Already handled; `result` is what complete() stored (e.g. a serialized reply). */
  | { readonly status: 'done'; readonly result?: string }
  /** Someone else holds an unexpired claim. */
  | { readonly status: 'busy' };

export interface IdempotencyStore {
  claim(key: string, options: { leaseMs: number }): Promise<ClaimResult>;
  complete(key: string, options: { ttlMs: number; result?: string }): Promise<void>;
  release(key: string): Promise<void>;
}

interface Entry {
  state: 'claimed' | 'done';
  expiresAt: number;
  result?: string;
}

/** In-process store: right for one instance and for tests; use the Redis/PostgreSQL stores across instances. */
export function memoryIdempotencyStore(options: { now?: () => number; maxEntries?: number } = {}): IdempotencyStore {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 100_000;
  const entries = new Map<string, Entry>();

  function sweep(): void {
    if (entries.size < maxEntries) return;
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
    // Still full of live entries: drop the oldest (Map keeps insertion order) rather than grow without bound.
    while (entries.size >= maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done) break;
      entries.delete(oldest.value);
    }
  }

  return {
    async claim(key, { leaseMs }) {
      const t = now();
      const entry = entries.get(key);
      if (entry && entry.expiresAt > t) {
        return entry.state === 'done' ? (entry.result === undefined ? { status: 'done' } : { status: 'done', result: entry.result }) : { status: 'busy' };
      }
      sweep();
      entries.set(key, { state: 'claimed', expiresAt: t + leaseMs });
      return { status: 'claimed' };
    },
    async complete(key, { ttlMs, result }) {
      const entry: Entry = { state: 'done', expiresAt: now() + ttlMs };
      if (result !== undefined) entry.result = result;
      entries.delete(key);
      entries.set(key, entry);
    },
    async release(key) {
      const entry = entries.get(key);
      if (entry?.state === 'claimed') entries.delete(key);
    },
  };
}
