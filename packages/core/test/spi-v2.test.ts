/**
 * SPI v2 as core applies it: capabilities a subscription needs (CapabilityError), group
 * policies handed to the transport (and conflicts refused), nack modes.
 */
import { describe, expect, it } from 'vitest';
import { CapabilityError, ConfigurationError, createBus, silentLogger, type Message } from '../src/index.js';
import type { Capabilities, ConsumeOptions, Transport } from '../src/index.js';
import { busWithout, closeAfterEach, topic, waitFor } from './helpers.js';

const track = closeAfterEach(1000);

describe('capabilities a subscription needs', () => {
  it('a group of its own on a transport without consumer groups is a CapabilityError; the service group works', async () => {
    const bus = track(await busWithout({ consumerGroups: false }));
    const t = topic('nogroups');
    const err = await bus.subscribe(t, () => undefined, { group: 'billing' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapabilityError);
    expect((err as CapabilityError).capability).toBe('consumerGroups');
    expect((err as Error).message).toMatch(/group "billing"/);
    await expect(bus.subscribe(t, () => undefined)).resolves.toHaveProperty('group', 'svc');
  });

  it('a second group on one topic without fan-out is a CapabilityError; more consumers of the same group are fine', async () => {
    const bus = track(await busWithout({ fanOut: false }));
    const t = topic('nofanout');
    await bus.subscribe(t, () => undefined, { group: 'a' });
    await expect(bus.subscribe(t, () => undefined, { group: 'a' })).resolves.toHaveProperty('group', 'a');
    const err = await bus.subscribe(t, () => undefined, { group: 'b' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapabilityError);
    expect((err as CapabilityError).capability).toBe('fanOut');
  });
});

describe('group policies', () => {
  it('reach the transport with the subscription: attempts, retry, dead-letter topic, concurrency', async () => {
    const seen: ConsumeOptions[] = [];
    const bus = track(
      await busWithout({}, undefined, {
        consume(this: Transport, t, group, options, onDelivery) {
          seen.push(options);
          return Object.getPrototypeOf(this).consume.call(this, t, group, options, onDelivery);
        },
      }),
    );
    const t = topic('policy');
    await bus.subscribe(t, () => undefined, { group: 'g', concurrency: 4, retry: { maxAttempts: 7, initialDelayMs: 10 } });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.policy).toMatchObject({ maxAttempts: 7, deadLetterTopic: `${t}.dlq`, concurrency: 4, ephemeral: false, retry: { maxAttempts: 7, initialDelayMs: 10 } });
    expect(seen[0]!.prefetch).toBeGreaterThanOrEqual(4);
  });

  it('a transport that keeps policies refuses another process with a different one while the first consumes (memory broker shared by two buses)', async () => {
    const name = `policy-shared-${process.pid}`;
    const a = track(await createBus({ url: `memory://${name}`, service: 'svc', logger: silentLogger }));
    const b = track(await createBus({ url: `memory://${name}`, service: 'svc', logger: silentLogger }));
    const t = topic('crossbus');
    const sub = await a.subscribe(t, () => undefined, { retry: { maxAttempts: 3 } });
    const err = await b.subscribe(t, () => undefined, { retry: { maxAttempts: 9 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(/maxAttempts 3.*maxAttempts 9/);
    await expect(b.subscribe(t, () => undefined, { retry: { maxAttempts: 3 } })).resolves.toBeDefined();
    await sub.close();
    const pullErr = await b.pull(t, { maxAttempts: 2, waitMs: 0 }).catch((e: unknown) => e);
    expect(pullErr).toBeInstanceOf(ConfigurationError);
  });
});

describe('nack modes', () => {
  it("'immediate': core waits out the backoff itself, then nacks, so the broker's count gives attempt 2", async () => {
    const bus = track(await createBus({ url: `memory://immediate-${process.pid}?nack=immediate`, service: 'svc', logger: silentLogger }));
    const t = topic('immediate');
    const at: { attempt: number; time: number }[] = [];
    await bus.subscribe(
      t,
      (m: Message) => {
        at.push({ attempt: m.attempt, time: Date.now() });
        if (m.attempt === 1) throw new Error('once');
      },
      { retry: { maxAttempts: 3, initialDelayMs: 400, maxDelayMs: 400 } },
    );
    await bus.publish(t, {});
    await waitFor(at, 2);
    expect(at.map((x) => x.attempt)).toEqual([1, 2]);
    // Equal jitter: at least half the 400 ms backoff, which the memory broker (immediate) would not wait.
    expect(at[1]!.time - at[0]!.time).toBeGreaterThanOrEqual(195);
  });

  it('a transport is never asked for more than it declares (memory refuses a longer nack than maxNackDelayMs)', async () => {
    const bus = track(await createBus({ url: `memory://shortnack-${process.pid}?maxNackDelayMs=50`, service: 'svc', logger: silentLogger }));
    const t = topic('shortnack');
    const attempts: number[] = [];
    await bus.subscribe(
      t,
      (m: Message) => {
        attempts.push(m.attempt);
        if (m.attempt < 3) throw new Error('again');
      },
      { retry: { maxAttempts: 3, initialDelayMs: 300, maxDelayMs: 300 } },
    );
    await bus.publish(t, {});
    await waitFor(attempts, 3);
    expect(attempts).toEqual([1, 2, 3]);
  });
});

describe('declared capabilities', () => {
  it('an SPI v1 declaration (nack: true, deliveryCount: false) or a lease without redeliveryOnTimeout fails createBus with what to fix', async () => {
    const v1 = busWithout({ nack: true, deliveryCount: false } as unknown as Partial<Capabilities>);
    await expect(v1).rejects.toBeInstanceOf(ConfigurationError);
    await expect(v1).rejects.toThrow(/nack must be 'none', 'immediate' or 'delayed'.*deliveryCount must be/);
    await expect(busWithout({ leaseMs: 1000 })).rejects.toThrow(/redeliveryOnTimeout must be true exactly when leaseMs is set/);
    await expect(busWithout({ delay: 'native', maxNativeDelayMs: 0 })).rejects.toThrow(/maxNativeDelayMs must be a positive/);
  });
});
