import { describe, expect, it, vi } from 'vitest';
import { ConnectionError, createBus, memoryFaults, memoryIdempotencyStore, silentLogger, type Bus, type Message } from '../src/index.js';
import { topic, waitFor, closeAfterEach } from './helpers.js';

const track = closeAfterEach(500);

let counter = 0;
async function busOn(broker: string): Promise<Bus> {
  const bus = await createBus({ url: `memory://${broker}`, service: 'svc', logger: silentLogger });
  track(bus);
  return bus;
}
const brokerName = () => `faults-${process.pid}-${++counter}`;

describe('memoryFaults: injected broker misbehaviour for apps’ own tests', () => {
  it('duplicate: the next publish reaches the group twice; an idempotent handler has one effect', async () => {
    const name = brokerName();
    const bus = await busOn(name);
    const t = topic('dup');
    const seen: Message[] = [];
    const effects: string[] = [];
    const store = memoryIdempotencyStore();
    await bus.subscribe(t, (m) => void seen.push(m));
    await bus.subscribe(t, (m) => void effects.push(m.id), { group: 'billing', idempotency: { store } });
    memoryFaults(name).duplicate(t);
    const { id } = await bus.publish(t, { n: 1 });
    await waitFor(seen, 2);
    expect(seen.map((m) => m.id)).toEqual([id, id]);
    await bus.publish(t, { n: 2 });
    await waitFor(seen, 3);
    await waitFor(effects, 2);
    expect(effects[0]).toBe(id);
    expect(effects).toHaveLength(2);
  });

  it('loseAck: the handler ran but the ack is lost, so the message comes back with attempt 2', async () => {
    const name = brokerName();
    const bus = await busOn(name);
    const t = topic('lostack');
    const attempts: number[] = [];
    await bus.subscribe(t, (m) => void attempts.push(m.attempt));
    memoryFaults(name).loseAck(t);
    await bus.publish(t, {});
    await waitFor(attempts, 2);
    expect(attempts).toEqual([1, 2]);
  });

  it('down: publishes fail with ConnectionError, nothing is delivered, and queued messages flow once it is back', async () => {
    const name = brokerName();
    const bus = await busOn(name);
    const t = topic('down');
    const seen: number[] = [];
    await bus.subscribe(t, (m) => void seen.push((m.body as { i: number }).i));
    const faults = memoryFaults(name);
    faults.delay(t, 50);
    await bus.publish(t, { i: 1 }); // stored, reaches the queue 50 ms later: while the broker is down
    faults.down(300);
    await expect(bus.publish(t, { i: 2 })).rejects.toBeInstanceOf(ConnectionError);
    // The delayed message reaches its queue while the broker is down: queued, not delivered.
    await expect.poll(async () => (await bus.health()).details['depth'], { timeout: 2000, interval: 5 }).toBe(1);
    expect(seen).toEqual([]);
    await waitFor(seen, 1, 5000);
    expect(seen).toEqual([1]);
    faults.clear();
    await bus.publish(t, { i: 3 });
    await waitFor(seen, 2);
    expect(seen).toEqual([1, 3]);
  });

  it('down: delivery resumes even when the up-timer fires before Date.now() has passed the down time', async () => {
    // Timers run on the event loop's monotonic clock, which can reach a timer's due time a
    // moment before Date.now() (what isDown reads) does. Here the wall clock lags 20 ms from the
    // moment the broker goes down, so the up-timer always fires while it still reads "down".
    const name = brokerName();
    const bus = await busOn(name);
    const t = topic('down-early');
    const seen: number[] = [];
    await bus.subscribe(t, (m) => void seen.push((m.body as { i: number }).i));
    const faults = memoryFaults(name);
    faults.delay(t, 20);
    await bus.publish(t, { i: 1 }); // reaches the queue while the broker is down
    faults.down(100);
    const wallClock = Date.now.bind(Date);
    const lagging = vi.spyOn(Date, 'now').mockImplementation(() => wallClock() - 20);
    try {
      await waitFor(seen, 1, 2000);
    } finally {
      lagging.mockRestore();
    }
    expect(seen).toEqual([1]);
  });

  it('refuses nonsense fault settings', () => {
    expect(() => memoryFaults(brokerName()).delay('t', -5)).toThrow(/positive integer/);
  });
});
