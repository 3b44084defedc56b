/**
 * Idempotent handling: the runner claims a key in a store before the handler runs, marks it done
 * after, and releases it if the handler fails. Stores keep the contract on IdempotencyStore.
 */
import { randomUUID } from 'node:crypto';
import { IdempotencyStoreFullError, ValidationError } from './errors.js';

export type ClaimResult =
  /** The caller now owns the key until its lease ends; pass `token` to complete() or release(). */
  | { readonly status: 'claimed'; readonly token: string }
  /** Already handled; `result` is what complete() stored (e.g. a serialized reply). */
  | { readonly status: 'done'; readonly result?: string }
  /** Someone else holds an unexpired claim. */
  | { readonly status: 'busy' };

/**
 * Where idempotency claims and done marks live. The contract every store keeps (proven by
 * `runStoreConformance` in @switchyard/conformance):
 *
 * - `claim` is atomic across every process sharing the store: of concurrent claims on a free key,
 *   exactly one gets `claimed`. A claim is a lease of `leaseMs`; once it lapses the key is free
 *   again (the owner is presumed crashed), so the next claim takes it over with a new token.
 * - The token names one claim. `complete`, `release` and `extend` act only while that token still
 *   owns an unexpired claim on the key, and return whether they did. A stale owner (lease lapsed,
 *   maybe taken over) changes nothing: it can neither free, extend nor mark done someone else's
 *   claim.
 * - `complete` turns the claim into a done mark kept for `ttlMs` (with an optional `result`);
 *   claims on the key answer `done` until then. A done mark is never dropped before its TTL.
 *   Completing again with the token that made the mark returns true and keeps the mark and its
 *   TTL (it only records `result` if the mark has none): a complete retried after a lost reply,
 *   or the runner's complete after the app already wrote the mark in its own transaction, is not
 *   mistaken for a stale owner.
 * - `extend` (optional) renews a live claim's lease to `leaseMs` from now, so a handler that runs
 *   longer than its lease keeps the key instead of letting another instance take it over.
 * - Fail closed: a store that cannot record a claim (full, unreachable) throws from `claim`.
 *   It must never answer `claimed` without recording it, nor `done` for a key it forgot. The
 *   runner treats the throw like a handler failure: the message is retried later, neither run
 *   nor skipped. `complete`, `release` and `extend` throw or return false when the store cannot
 *   be reached; never true for a change they did not record.
 */
export interface IdempotencyStore {
  claim(key: string, options: { leaseMs: number }): Promise<ClaimResult>;
  /** Mark `key` done for `ttlMs`. False (nothing changed) when `token` no longer owns the claim. */
  complete(key: string, token: string, options: { ttlMs: number; result?: string }): Promise<boolean>;
  /** Free `key` for another claim. False (nothing changed) when `token` no longer owns the claim. */
  release(key: string, token: string): Promise<boolean>;
  /**
   * Renew the claim's lease to `leaseMs` from now, while a handler still runs. False (nothing
   * changed) when `token` no longer owns an unexpired claim: the handler has lost the key.
   */
  extend?(key: string, token: string, options: { leaseMs: number }): Promise<boolean>;
}

export interface MemoryIdempotencyStoreOptions {
  /** Clock in ms; for tests. Default Date.now. */
  now?: () => number;
  /** Most keys (claims and done marks) held at once. Default 100,000. */
  maxEntries?: number;
}

/** Done marks keep the token that made them, so a repeated complete by that owner is recognised. */
type Entry =
  | { readonly state: 'claimed'; readonly token: string; readonly expiresAt: number }
  | { readonly state: 'done'; readonly token: string; readonly expiresAt: number; readonly result?: string };

/** A heap node: `entry` was stored under `key` when pushed; if it was replaced since, the node is stale. */
interface Expiry {
  readonly key: string;
  readonly entry: Entry;
}

/**
 * In-process store: right for one instance and for tests; use the Redis/PostgreSQL stores across
 * instances. Claims cost O(log n): entries expire in `expiresAt` order from a min-heap, so no
 * claim scans the store. A done mark is kept until its TTL ends, never evicted early: when the
 * store holds `maxEntries` live entries, a claim on a new key throws IdempotencyStoreFullError
 * (the runner retries that message later) until some entry expires. Keys already held still
 * answer `busy` or `done`.
 */
export function memoryIdempotencyStore(options: MemoryIdempotencyStoreOptions = {}): IdempotencyStore {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new ValidationError(`memoryIdempotencyStore: maxEntries must be a positive integer, got ${String(maxEntries)}.`);
  }
  const entries = new Map<string, Entry>();
  const expiries = new ExpiryHeap();

  function put(key: string, entry: Entry): void {
    entries.set(key, entry);
    expiries.push({ key, entry });
    // Replaced and released entries leave stale nodes behind; rebuild before they outnumber live ones.
    if (expiries.size > 2 * entries.size + 1024) expiries.rebuild(entries);
  }

  /** Drop every entry whose time is up. Each node is popped once, so this is amortised O(log n). */
  function expire(t: number): void {
    for (let next = expiries.peek(); next !== undefined && next.entry.expiresAt <= t; next = expiries.peek()) {
      expiries.pop();
      if (entries.get(next.key) === next.entry) entries.delete(next.key);
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
      expire(t);
      const current = entries.get(key);
      if (current !== undefined && current.expiresAt > t) {
        if (current.state === 'claimed') return { status: 'busy' };
        return current.result === undefined ? { status: 'done' } : { status: 'done', result: current.result };
      }
      if (current === undefined && entries.size >= maxEntries) throw new IdempotencyStoreFullError(key, maxEntries);
      const token = randomUUID();
      put(key, { state: 'claimed', token, expiresAt: t + leaseMs });
      return { status: 'claimed', token };
    },
    async complete(key, token, { ttlMs, result }) {
      const t = now();
      const current = entries.get(key);
      if (current?.state === 'done' && current.token === token && current.expiresAt > t) {
        // Completed before by this owner: keep the mark and its TTL, fill in a missing result.
        if (current.result === undefined && result !== undefined) put(key, { ...current, result });
        return true;
      }
      if (!ownedBy(key, token)) return false;
      const expiresAt = t + ttlMs;
      put(key, result === undefined ? { state: 'done', token, expiresAt } : { state: 'done', token, expiresAt, result });
      return true;
    },
    async extend(key, token, { leaseMs }) {
      if (!ownedBy(key, token)) return false;
      put(key, { state: 'claimed', token, expiresAt: now() + leaseMs });
      return true;
    },
    async release(key, token) {
      if (!ownedBy(key, token)) return false;
      entries.delete(key);
      return true;
    },
  };
}

/** Binary min-heap of expiries ordered by `entry.expiresAt`. */
class ExpiryHeap {
  private nodes: Expiry[] = [];

  get size(): number {
    return this.nodes.length;
  }

  peek(): Expiry | undefined {
    return this.nodes[0];
  }

  push(node: Expiry): void {
    this.nodes.push(node);
    this.up(this.nodes.length - 1);
  }

  pop(): Expiry | undefined {
    const top = this.nodes[0];
    const last = this.nodes.pop();
    if (top !== undefined && last !== undefined && this.nodes.length > 0) {
      this.nodes[0] = last;
      this.down(0);
    }
    return top;
  }

  /** Keep one node per live entry (drops stale ones), in O(n). */
  rebuild(entries: ReadonlyMap<string, Entry>): void {
    this.nodes = [...entries].map(([key, entry]) => ({ key, entry }));
    for (let i = (this.nodes.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private at(i: number): number {
    return (this.nodes[i] as Expiry).entry.expiresAt;
  }

  private swap(i: number, j: number): void {
    const a = this.nodes[i] as Expiry;
    this.nodes[i] = this.nodes[j] as Expiry;
    this.nodes[j] = a;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.at(parent) <= this.at(i)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.nodes.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < n && this.at(left) < this.at(smallest)) smallest = left;
      if (right < n && this.at(right) < this.at(smallest)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}
