import type { IdempotencyStore } from '@switchyard/core';

/** A store as the suite uses it: `close` (when present) ends the connections it opened. */
export type StoreUnderTest = IdempotencyStore & { close?(): Promise<void> };

export interface StoreConformanceOptions {
  /** Name in test titles and the report, e.g. "redis". */
  name: string;
  /**
   * A new client of the one shared store: every call opens its own connection(s) to the same
   * data, the way separate processes would. Cases use unique keys, so they share the store.
   */
  createStore: () => Promise<StoreUnderTest>;
  /**
   * Enables the outage case. `createStore` gives a store whose connection `cut` can break (e.g.
   * through a TCP proxy), without stopping the real server the other cases use; `cut` resolves
   * to a function that restores the connection. Leave it out for in-process stores.
   */
  outage?: {
    createStore: () => Promise<StoreUnderTest>;
    cut: () => Promise<() => Promise<void>>;
  };
  /** Claimants racing for one key in the concurrency case, each on its own store. Default 20. */
  concurrentClaimants?: number;
  /** Where the JSON report goes: `<reportDir>/stores/<name>.json`. Default: $SWITCHYARD_CONFORMANCE_REPORT_DIR or ./conformance-reports. */
  reportDir?: string;
  /** Multiply every case's timeout (slow servers, slow CI). Default 1. */
  timeoutScale?: number;
}
