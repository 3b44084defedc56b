/**
 * Idempotent handling: the runner claims a key in a store before the handler runs, marks it done
 * after, and releases it if the handler fails. Stores keep the contract on IdempotencyStore.
 */
import { randomUUID } from 'node:crypto';

export type ClaimResult =
  /** The caller now owns the key until its lease ends; pass `token` to complete() or release(). */
  | { readonly status: 'claimed'; readonly token: string }
  /** Already handled; `result` is what complete() stored (e.g. a serialized reply). */
  | { readonly status: 'done'; readonly result?: string }
  /** Someone else holds an unexpired claim. */
  | { readonly status: 'busy' };

/**
 * Where idempotency claims and done marks live. The contract every store keeps:
 *
 * - `claim` is atomic across every process sharing the store: of concurrent claims on a free key,
 *   exactly one gets `claimed`. A claim is a lease of `leaseMs`; once it lapses the key is free
 *   again (the owner is presumed crashed), so the next claim takes it over with a new token.
 * - The token names one claim. `complete` and `release` act only while that token still owns an
 *   unexpired claim on the key, and return whether they did. A stale owner (lease lapsed, maybe
 *   taken over) changes nothing: it can neither free nor mark done someone else's claim.
 * - `complete` turns the claim into a done mark kept for `ttlMs` (with an optional `result`);
 *   claims on the key answer `done` until then. A done mark is never dropped before its TTL.
 * - Fail closed: a store that cannot record a claim (full, unreachable) throws from `claim`.
 *   It must never answer `claimed` without recording it, nor `done` for a key it forgot. The
 *   runner treats the throw like a handler failure: the message is retried later, neither run
 *   nor skipped.
 */
export interface IdempotencyStore {
  claim(key: string, options: { leaseMs: number }): Promise<ClaimResult>;
  /** Mark `key` done for `ttlMs`. False (nothing changed) when `token` no longer owns the claim. */
  complete(key: string, token: string, options: { ttlMs: number; result?: string }): Promise<boolean>;
  /** Free `key` for another claim. False (nothing changed) when `token` no longer owns the claim. */
  release(key: string, token: string): Promise<boolean>;
}

type Entry = { readonly state: 'claimed'; readonly token: string; readonly expiresAt: number } | { readonly state: 'done'; readonly expiresAt: number; readonly result?: string };

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

  /** True while `token` holds an unexpired claim on `key`: only that owner may complete or release it. */
  function ownedBy(key: string, token: string): boolean {
    const entry = entries.get(key);
    return entry?.state === 'claimed' && entry.token === token && entry.expiresAt > now();
  }

  return {
    async claim(key, { leaseMs }) {
      const t = now();
      const entry = entries.get(key);
      if (entry && entry.expiresAt > t) {
        if (entry.state === 'claimed') return { status: 'busy' };
        return entry.result === undefined ? { status: 'done' } : { status: 'done', result: entry.result };
      }
      sweep();
      const token = randomUUID();
      entries.set(key, { state: 'claimed', token, expiresAt: t + leaseMs });
      return { status: 'claimed', token };
    },
    async complete(key, token, { ttlMs, result }) {
      if (!ownedBy(key, token)) return false;
      const expiresAt = now() + ttlMs;
      entries.delete(key);
      entries.set(key, result === undefined ? { state: 'done', expiresAt } : { state: 'done', expiresAt, result });
      return true;
    },
    async release(key, token) {
      if (!ownedBy(key, token)) return false;
      entries.delete(key);
      return true;
    },
  };
}
