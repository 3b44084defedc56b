import { describe, expect, it } from 'vitest';
import { memoryBus, topic, closeAfterEach } from './helpers.js';

const track = closeAfterEach(1000);

describe('request with an already-aborted signal', () => {
  it('rejects with the abort reason and sends nothing', async () => {
    const bus = track(await memoryBus());
    const t = topic('pre-aborted');
    let calls = 0;
    await bus.reply(t, (m) => {
      calls++;
      return m.body;
    });
    const controller = new AbortController();
    controller.abort(new Error('user gave up'));
    await expect(bus.request(t, 'never sent', { signal: controller.signal })).rejects.toThrow('user gave up');

    const silent = new AbortController();
    silent.abort();
    const err = await bus.request(t, 'never sent either', { signal: silent.signal }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');

    // The reply handler works through its queue in order: once this reply is back, an aborted
    // request that had been sent would have been handled too.
    await expect(bus.request(t, 'sent')).resolves.toBe('sent');
    expect(calls).toBe(1);
  });
});

describe('private reply topics', () => {
  it('are removed when their bus closes: 50 buses that each made a request leave no topic behind', async () => {
    const broker = `reply-cleanup-${process.pid}`;
    const server = track(await memoryBus('server', broker));
    const t = topic('echo');
    await server.reply(t, (m) => m.body);
    const topicsNow = async () => (await server.health()).details['topics'];
    const baseline = await topicsNow();
    for (let i = 0; i < 50; i++) {
      const client = await memoryBus('client', broker);
      await expect(client.request(t, i)).resolves.toBe(i);
      await client.close();
    }
    expect(await topicsNow()).toBe(baseline);
  });
});
