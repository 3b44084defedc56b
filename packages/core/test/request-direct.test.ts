/**
 * Core's side of Transport.requestDirect, on the memory broker: what the transport says decides
 * between the direct answer, the stored request, and a failure the requester sees at once.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionError, type Message, type WireMessage } from '../src/index.js';
import { busWithout, closeAfterEach, topic } from './helpers.js';

const track = closeAfterEach(500);

describe('direct requests (Transport.requestDirect)', () => {
  it('no live member (undefined): the request is stored as usual and the reply handler answers it', async () => {
    const asked: string[] = [];
    const bus = track(
      await busWithout({}, undefined, {
        requestDirect: async (t: string) => {
          asked.push(t);
          return undefined;
        },
      }),
    );
    const t = topic('direct-none');
    await bus.reply(t, (m: Message<number>) => m.body + 1);
    await expect(bus.request(t, 41)).resolves.toBe(42);
    expect(asked).toEqual([t]);
  });

  it('a reply from the transport resolves the request; the topic never sees it', async () => {
    let stored = 0;
    const bus = track(
      await busWithout({}, undefined, {
        requestDirect: async (_t: string, request: WireMessage): Promise<WireMessage> => ({
          body: new TextEncoder().encode('"direct"'),
          headers: { 'ce-specversion': '1.0', 'ce-id': 'r1', 'ce-inreplyto': request.headers['ce-id']!, 'ce-replystatus': 'ok', 'content-type': 'application/json' },
        }),
      }),
    );
    const t = topic('direct-answer');
    await bus.reply(t, () => {
      stored++;
      return 'stored';
    });
    await expect(bus.request(t, {})).resolves.toBe('direct');
    expect(stored).toBe(0);
  });

  it('a request whose caller gave up before the transport found no live member is not stored', async () => {
    let noMember: (() => void) | undefined;
    const bus = track(
      await busWithout({}, undefined, {
        requestDirect: () => new Promise<undefined>((resolve) => (noMember = () => resolve(undefined))),
      }),
    );
    const t = topic('direct-gaveup');
    const handled: unknown[] = [];
    await bus.reply(t, (m) => {
      handled.push(m.body);
      return 'late';
    });
    const controller = new AbortController();
    const asked = bus.request(t, 'stale', { signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve)); // the direct request is out
    controller.abort();
    await expect(asked).rejects.toThrow();
    noMember!(); // the stale request's answer from the transport: no live member
    // A second request, stored the same way, is handled, and the stale one was never stored before it.
    const fresh = bus.request(t, 'fresh');
    await new Promise((resolve) => setImmediate(resolve));
    noMember!();
    await expect(fresh).resolves.toBe('late');
    expect(handled).toEqual(['fresh']);
  });

  it('a transport failure fails the request at once with ConnectionError, not at its timeout', async () => {
    const bus = track(
      await busWithout({}, undefined, {
        requestDirect: async () => {
          throw new Error('socket closed');
        },
      }),
    );
    const t = topic('direct-fail');
    await bus.reply(t, () => 'never');
    const started = Date.now();
    const err = await bus.request(t, {}, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/socket closed/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
