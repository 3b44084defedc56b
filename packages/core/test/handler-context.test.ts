/**
 * ctx is built per delivery with its publish/request made on first use: they must still work
 * when destructured and carry the handled message's ids.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../src/index.js';
import { closeAfterEach, memoryBus, topic, waitFor } from './helpers.js';

const track = closeAfterEach(500);

describe('handler context', () => {
  it('publish and request taken out of ctx pass on the correlation id and make the message their cause', async () => {
    const bus = track(await memoryBus());
    const [first, next, ask] = [topic('ctx-first'), topic('ctx-next'), topic('ctx-ask')];
    const followUps: Message[] = [];
    const asked: Message[] = [];
    await bus.subscribe(next, (m) => void followUps.push(m));
    await bus.reply(ask, (m) => {
      asked.push(m);
      return 'pong';
    });
    const answers: unknown[] = [];
    await bus.subscribe(first, async (_m, { publish, request }) => {
      await publish(next, { step: 2 });
      answers.push(await request(ask, 'ping'));
    });
    const { id } = await bus.publish(first, { step: 1 }, { correlationId: 'order-7' });
    await waitFor(followUps, 1);
    await waitFor(answers, 1);
    expect(answers).toEqual(['pong']);
    expect(followUps[0]).toMatchObject({ correlationId: 'order-7', causationId: id });
    expect(asked[0]).toMatchObject({ correlationId: 'order-7', causationId: id });
  });

  it('has idempotency only when the subscription is idempotent, and attempt and signal as own fields', async () => {
    const bus = track(await memoryBus());
    const t = topic('ctx-fields');
    const seen: { keys: string[]; attempt: number; aborted: boolean }[] = [];
    await bus.subscribe(t, (_m, ctx) => void seen.push({ keys: Object.keys(ctx), attempt: ctx.attempt, aborted: ctx.signal.aborted }));
    await bus.publish(t, {});
    await waitFor(seen, 1);
    expect(seen[0]).toEqual({ keys: ['attempt', 'signal'], attempt: 1, aborted: false });
  });
});
