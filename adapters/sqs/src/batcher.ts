/**
 * Groups calls to one queue into SQS batch requests (SendMessageBatch, DeleteMessageBatch): up to
 * 10 entries and 1 MiB per request, per queue. Each caller gets its own entry's outcome. This is
 * what makes `batchPublish` true: a round trip per message costs ElasticMQ (and SQS) about eight
 * times as much as the same messages ten to a request.
 *
 * When to send: by default each call waits for the next macrotask (setImmediate), so that the
 * calls of every I/O callback the event loop runs meanwhile — above all the callers the last
 * answers released, whose next calls come a few awaits later — join one request. A batcher made
 * with `soonWhenIdle` sends a call to a queue none of its requests is in flight to at the end of
 * the current turn instead (once the microtasks have run): a lone message (a request, its reply)
 * then does not wait behind the other work of the loop, and the calls of one turn still go
 * together (a loop of publishes reaches here through the same awaits). Acks keep the default:
 * nobody waits for them, and a delete built at once would go ahead of the answers the loop has
 * yet to read.
 */
export interface BatchEntryError {
  readonly Code?: string | undefined;
  readonly Message?: string | undefined;
  readonly SenderFault?: boolean | undefined;
}

/** A failed batch entry as an Error, named by SQS's code (as the SDK names whole-request errors). */
export class EntryError extends Error {
  readonly senderFault: boolean;
  constructor(failure: BatchEntryError) {
    super(failure.Message ?? failure.Code ?? 'batch entry failed');
    this.name = failure.Code ?? 'BatchEntryError';
    this.senderFault = failure.SenderFault === true;
  }
}

interface Pending<E, R> {
  readonly entry: E;
  readonly size: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/** Sends one request for `entries` (ids are their indexes) and returns each one's outcome in order. */
export type SendBatch<E, R> = (queueUrl: string, entries: E[]) => Promise<(R | EntryError)[]>;

export class Batcher<E, R> {
  private pending = new Map<string, Pending<E, R>[]>();
  /** The flush to come: at the end of this turn, or after the next macrotask. */
  private scheduled: 'soon' | 'later' | undefined;
  /** Requests sent and not yet answered, per queue. */
  private readonly inFlight = new Map<string, number>();
  private readonly flushNow = () => this.flush();

  constructor(
    private readonly send: SendBatch<E, R>,
    private readonly maxBytes: number,
    private readonly options: { readonly maxEntries?: number; readonly soonWhenIdle?: boolean } = {},
  ) {}

  add(queueUrl: string, entry: E, size = 0): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const list = this.pending.get(queueUrl) ?? [];
      list.push({ entry, size, resolve, reject });
      this.pending.set(queueUrl, list);
      // A flush already scheduled for later is overtaken (it then finds nothing to send).
      if (this.options.soonWhenIdle === true && !this.inFlight.has(queueUrl) && this.scheduled !== 'soon') {
        this.scheduled = 'soon';
        process.nextTick(this.flushNow);
      } else if (this.scheduled === undefined) {
        this.scheduled = 'later';
        setImmediate(this.flushNow);
      }
    });
  }

  private flush(): void {
    this.scheduled = undefined;
    const maxEntries = this.options.maxEntries ?? 10;
    const pending = this.pending;
    this.pending = new Map();
    for (const [queueUrl, list] of pending) {
      let chunk: Pending<E, R>[] = [];
      let bytes = 0;
      for (const item of list) {
        if (chunk.length > 0 && (chunk.length >= maxEntries || bytes + item.size > this.maxBytes)) {
          void this.sendChunk(queueUrl, chunk);
          chunk = [];
          bytes = 0;
        }
        chunk.push(item);
        bytes += item.size;
      }
      void this.sendChunk(queueUrl, chunk);
    }
  }

  private async sendChunk(queueUrl: string, chunk: Pending<E, R>[]): Promise<void> {
    this.inFlight.set(queueUrl, (this.inFlight.get(queueUrl) ?? 0) + 1);
    try {
      const results = await this.send(
        queueUrl,
        chunk.map((p) => p.entry),
      );
      chunk.forEach((p, i) => {
        const result = results[i];
        if (result instanceof EntryError) p.reject(result);
        else p.resolve(result as R);
      });
    } catch (err) {
      for (const p of chunk) p.reject(err);
    } finally {
      const left = this.inFlight.get(queueUrl)! - 1;
      if (left === 0) this.inFlight.delete(queueUrl);
      else this.inFlight.set(queueUrl, left);
    }
  }
}
