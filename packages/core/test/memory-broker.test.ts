import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { WireMessage } from '../src/index.js';
import { type GroupQueue, type Lease, MemoryBroker } from '../src/memory/broker.js';

// A full garbage collection on demand, to see what the broker still holds on to.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Past the current job (WeakRef targets live until it ends), then a full collection. */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  return ref.deref() === undefined;
}

const message = (): WireMessage => ({ headers: {}, body: new Uint8Array(1024) });

describe('memory broker', () => {
  it('lets go of a deleted group and the messages it held', async () => {
    const broker = new MemoryBroker();
    let queue: GroupQueue | undefined = broker.queue('left', 'g');
    const deleted = new WeakRef(queue);
    queue = undefined;
    for (let i = 0; i < 10; i++) broker.publish('left', message(), 0);
    broker.deleteGroup('left', 'g');
    expect(await collected(deleted)).toBe(true);
  });

  it('after a group of a topic is deleted, the others still resume delivering when an outage ends', async () => {
    const broker = new MemoryBroker();
    const kept = broker.queue('outage', 'kept');
    broker.queue('outage', 'deleted');
    broker.publish('outage', message(), 0);
    broker.deleteGroup('outage', 'deleted');
    broker.faults.down(60_000);
    const delivered: Lease[] = [];
    let arrived: () => void = () => undefined;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    kept.addConsumer({
      prefetch: 10,
      stopped: false,
      outstanding: new Set(),
      deliver: (lease) => {
        delivered.push(lease);
        arrived();
      },
    });
    // Nothing goes out while the broker is down (the dispatch it scheduled has run by now).
    await new Promise((resolve) => setImmediate(resolve));
    expect(delivered).toHaveLength(0);
    broker.faults.clear(); // the outage ends: the broker wakes its groups
    await arrival;
    expect(delivered).toHaveLength(1);
  });
});
