import { describe, expect, it } from 'vitest';
import { probeHealth, retrying, settleOnce } from '../src/spi-entry.js';

describe('retrying (adapters share one retry loop)', () => {
  it('retries until the operation succeeds and reports each wait', async () => {
    const waits: number[] = [];
    const result = await retrying(
      async (attempt) => {
        if (attempt < 3) throw new Error(`not yet ${attempt}`);
        return attempt;
      },
      { initialDelayMs: 2, maxDelayMs: 4, onRetry: (_e, _a, delay) => void waits.push(delay) },
    );
    expect(result).toBe(3);
    expect(waits).toHaveLength(2);
    for (const w of waits) expect(w).toBeLessThanOrEqual(4);
  });

  it('throws the last error after the allowed attempts, and at once for errors retryIf refuses', async () => {
    let calls = 0;
    await expect(
      retrying(
        async (attempt) => {
          calls++;
          throw new Error(`failure ${attempt}`);
        },
        { initialDelayMs: 1, maxDelayMs: 1, attempts: 3 },
      ),
    ).rejects.toThrow('failure 3');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      retrying(
        async () => {
          calls++;
          throw new Error('fatal');
        },
        { initialDelayMs: 1, maxDelayMs: 1, retryIf: (e) => (e as Error).message !== 'fatal' },
      ),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });

  it('gives up when aborted while waiting', async () => {
    const controller = new AbortController();
    const run = retrying(
      async () => {
        throw new Error('down');
      },
      { initialDelayMs: 60_000, maxDelayMs: 60_000, signal: controller.signal, onRetry: () => controller.abort() },
    );
    await expect(run).rejects.toThrow('down');
  });
});

describe('settleOnce (a delivery settles exactly once)', () => {
  it('runs only the first settlement and then refuses to extend', async () => {
    const calls: string[] = [];
    const delivery = settleOnce({
      message: { body: new Uint8Array(), headers: {} },
      deliveryCount: 1,
      ack: () => void calls.push('ack'),
      nack: ({ delayMs }) => void calls.push(`nack ${delayMs}`),
      abandon: () => void calls.push('abandon'),
      extend: async () => true,
    });
    expect(await delivery.extend?.(1000)).toBe(true);
    await Promise.all([delivery.nack({ delayMs: 5 }), delivery.ack(), delivery.abandon()]);
    expect(calls).toEqual(['nack 5']);
    expect(delivery.settled).toBe(true);
    expect(await delivery.extend?.(1000)).toBe(false);
  });

  it("turns an adapter's synchronous throw into a rejection and passes its promise's outcome on", async () => {
    const parts = (ack: () => Promise<void> | void) => ({
      message: { body: new Uint8Array(), headers: {} },
      deliveryCount: 1,
      ack,
      nack: () => undefined,
      abandon: () => undefined,
    });
    const throwing = settleOnce(
      parts(() => {
        throw new Error('channel closed');
      }),
    );
    let settling: Promise<void> | undefined;
    expect(() => {
      settling = throwing.ack();
    }).not.toThrow();
    await expect(settling).rejects.toThrow('channel closed');
    await expect(settleOnce(parts(() => Promise.reject(new Error('refused')))).ack()).rejects.toThrow('refused');
    // A second settlement of a settled delivery resolves without calling the adapter.
    await expect(throwing.abandon()).resolves.toBeUndefined();
  });
});

describe('probeHealth (adapters that ask the broker)', () => {
  it('closed: not ok without probing; probe resolves: open with its figures; probe fails: unreachable with the scrubbed error', async () => {
    let probes = 0;
    const closed = await probeHealth({ endpoint: 'e' }, true, async () => void probes++);
    expect(closed).toEqual({ ok: false, details: { endpoint: 'e', state: 'closed' } });
    expect(probes).toBe(0);
    expect(await probeHealth({ endpoint: 'e' }, false, async () => ({ nodes: 3 }))).toEqual({ ok: true, details: { endpoint: 'e', state: 'open', nodes: 3 } });
    const down = await probeHealth(
      { endpoint: 'e' },
      false,
      async () => {
        throw new Error('connect to amqp://bob:hunter2@h failed');
      },
      (text) => text.replace('hunter2', '***'),
    );
    expect(down).toEqual({ ok: false, details: { endpoint: 'e', state: 'unreachable', error: 'connect to amqp://bob:***@h failed' } });
  });
});
