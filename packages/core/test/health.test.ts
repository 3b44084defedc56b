import { describe, expect, it } from 'vitest';
import { busWithout, memoryBus } from './helpers.js';

describe('bus.health()', () => {
  it("keeps the transport's own state visible and is not ok when the transport is not", async () => {
    // A transport in an outage, as the amqp one reports while it reconnects.
    const bus = await busWithout({}, undefined, { health: async () => ({ ok: false, details: { state: 'reconnecting', reconnects: 0 } }) });
    const health = await bus.health();
    expect(health.ok).toBe(false);
    expect(health.details).toMatchObject({ state: 'reconnecting', busState: 'open', reconnects: 0 });
    await bus.close();
  });

  it("reports the bus's own state as busState", async () => {
    const bus = await memoryBus();
    expect(await bus.health()).toMatchObject({ ok: true, transport: 'memory', details: { busState: 'open' } });
    await bus.close();
    expect(await bus.health()).toMatchObject({ ok: false, details: { busState: 'closed' } });
  });

  it('is not ok, with the error, when the transport cannot report', async () => {
    const bus = await busWithout({}, undefined, {
      health: async () => {
        throw new Error('admin connection refused');
      },
    });
    expect(await bus.health()).toMatchObject({ ok: false, details: { error: 'admin connection refused', busState: 'open' } });
    await bus.close();
  });
});
