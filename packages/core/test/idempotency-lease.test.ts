import { expect, it } from 'vitest';
import { createBus, memoryFaults, memoryIdempotencyStore, silentLogger } from '../src/index.js';
import { topic, waitFor, closeAfterEach } from './helpers.js';

const track = closeAfterEach(2000);

it('a handler slower than idempotency.leaseMs keeps its claim (extended while it runs), so a duplicate does not run the effect again', async () => {
  const broker = `idem-lease-${process.pid}`;
  const bus = await createBus({ url: `memory://${broker}`, service: 'svc', logger: silentLogger });
  track(bus);
  const t = topic('idemlease');
  const store = memoryIdempotencyStore();
  const effects: string[] = [];
  const claims: (string | undefined)[] = [];
  const finished: string[] = [];
  await bus.subscribe(
    t,
    async (m, ctx) => {
      claims.push(ctx.idempotency?.key);
      effects.push(m.id);
      await new Promise((resolve) => setTimeout(resolve, 400)); // four leases long
      finished.push(m.id);
    },
    { concurrency: 2, idempotency: { store, leaseMs: 100 }, retry: { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 100, factor: 2 } },
  );
  memoryFaults(broker).duplicate(t); // both copies arrive while the first still runs
  const { id } = await bus.publish(t, { n: 1 });
  await waitFor(finished, 1, 5000);
  // The duplicate waited for the claim, then found the done mark: one effect, one claim key.
  await bus.publish(t, { n: 2 });
  await waitFor(finished, 2, 5000);
  expect(effects.filter((e) => e === id)).toHaveLength(1);
  expect(claims[0]).toBe(`svc:${id}`);
});
