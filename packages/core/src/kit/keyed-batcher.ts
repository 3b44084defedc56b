/**
 * Batcher, one per key, for brokers whose requests each name one destination (a Pub/Sub Publish
 * names one topic, an Acknowledge one subscription): items of
 * one key added in one event-loop turn, and those added while the key's request is in flight, go
 * out together in the key's next request, one request per key in flight. A key's batcher exists
 * while it has unsettled items, so keys that come and go (reply topics, finished consumers) leave
 * nothing behind.
 */
import { Batcher } from './batcher.js';

export interface KeyedBatcherOptions<T> {
  /** Most bytes in one request. */
  readonly maxBatchBytes: number;
  /** Most items in one request. */
  readonly maxBatchItems: number;
  /** Send one key's batch (in arrival order); a rejection fails every item in it. */
  readonly send: (key: string, items: T[]) => Promise<void>;
}

interface Entry<T> {
  readonly batcher: Batcher<T>;
  /** Items added and not yet settled. */
  unsettled: number;
}

export class KeyedBatcher<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(private readonly options: KeyedBatcherOptions<T>) {}

  /** Resolves when the request carrying `item` succeeded; rejects with its error. */
  async add(key: string, item: T, bytes: number): Promise<void> {
    const entry = this.entryOf(key);
    entry.unsettled++;
    try {
      await entry.batcher.add(item, bytes);
    } finally {
      // Nothing of this key is queued or in flight any more: a later add starts a new batcher,
      // which cannot overtake anything of this one.
      if (--entry.unsettled === 0 && this.entries.get(key) === entry) this.entries.delete(key);
    }
  }

  /** Forget every batcher (what they still hold is sent, or fails, as `send` decides). */
  clear(): void {
    this.entries.clear();
  }

  private entryOf(key: string): Entry<T> {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const { maxBatchBytes, maxBatchItems, send } = this.options;
      // 'tick': the items of one turn — above all those whose callers the last request just answered — share the next request.
      entry = { batcher: new Batcher<T>({ maxBatchBytes, maxBatchItems, gather: 'tick', send: (items) => send(key, items) }), unsettled: 0 };
      this.entries.set(key, entry);
    }
    return entry;
  }
}
