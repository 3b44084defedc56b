import { randomUUID } from 'node:crypto';
import type { IdempotencyStore } from '@switchyard/core';
import type { Expect } from '../harness.js';
import type { StoreConformanceOptions, StoreUnderTest } from './options.js';

/** What one store case gets: store clients and unique keys, closed when it ends. */
export class StoreHarness {
  private readonly opened: StoreUnderTest[] = [];
  readonly run = randomUUID().slice(0, 8);

  constructor(
    readonly options: StoreConformanceOptions,
    readonly expect: Expect,
  ) {}

  /** A new client of the shared store (its own connection). */
  async store(): Promise<StoreUnderTest> {
    return this.track(await this.options.createStore());
  }

  track(store: StoreUnderTest): StoreUnderTest {
    this.opened.push(store);
    return store;
  }

  /** A key no other case or earlier run uses. */
  key(label: string): string {
    return `sc:${this.run}:${label}:${randomUUID().slice(0, 8)}`;
  }

  /** Claim a key that must be free; return the owner token. */
  async claimed(store: IdempotencyStore, key: string, leaseMs: number): Promise<string> {
    const result = await store.claim(key, { leaseMs });
    this.expect(result.status, `claim of free key "${key}"`).toBe('claimed');
    if (result.status !== 'claimed') throw new Error('unreachable');
    this.expect(typeof result.token).toBe('string');
    this.expect(result.token.length).toBeGreaterThan(0);
    return result.token;
  }

  /**
   * Resolve once a lease or TTL of `ms` that started before this call has lapsed in the store's
   * own clock (which may not be ours): claim a fresh marker key for `ms`, then poll until the
   * store lets it be claimed again. Anything timed before the marker has lapsed by then.
   */
  async lapsed(store: IdempotencyStore, ms: number, timeoutMs = 10_000): Promise<void> {
    const marker = this.key('lapse-marker');
    await this.claimed(store, marker, ms);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const again = await store.claim(marker, { leaseMs: 60_000 });
      if (again.status === 'claimed') return;
      this.expect(again.status, 'a lapsing claim is busy until it lapses, never done').toBe('busy');
      if (Date.now() > deadline) throw new Error(`A ${ms} ms lease had not lapsed after ${timeoutMs} ms: the store never frees lapsed claims.`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(25, ms / 4)));
    }
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.opened.map((s) => s.close?.()));
  }
}
