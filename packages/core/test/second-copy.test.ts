/**
 * Two copies of @switchyard/core in one app (an adapter with its own nested copy after a version
 * bump): errors must be recognised by their code, not by which copy's class made them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as core from '../src/index.js';
import { installedCoreCopy, waitFor } from './helpers.js';

type Core = typeof core;
let other: Core;
let otherSpi: typeof import('../src/spi-entry.js');
const buses: core.Bus[] = [];

beforeAll(async () => {
  // The built package, installed a second time under another version, as npm would nest it.
  ({ core: other, spi: otherSpi } = await installedCoreCopy('0.0.0-second-copy'));
});

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close({ drainTimeoutMs: 500 })));
});

describe('a second copy of core', () => {
  it('is really another copy: its classes are not ours', () => {
    expect(other.ValidationError).not.toBe(core.ValidationError);
    expect(Object.getPrototypeOf(new other.ValidationError('x'))).not.toBe(core.ValidationError.prototype);
  });

  it('its errors are instances of our classes by code, and only of the matching class', () => {
    const err = new other.NonRetryableError('bad data');
    expect(err).toBeInstanceOf(core.NonRetryableError);
    expect(err).toBeInstanceOf(core.SwitchyardError);
    expect(err).not.toBeInstanceOf(core.ValidationError);
    expect(new other.ClosedError()).toBeInstanceOf(core.ClosedError);
    expect(core.isSwitchyardError(new other.ConnectionError('x'), 'ERR_CONNECTION')).toBe(true);
    expect(new Error('plain')).not.toBeInstanceOf(core.SwitchyardError);
    // An app's own subclass keeps ordinary instanceof semantics.
    class OrderRejected extends core.NonRetryableError {}
    expect(new core.NonRetryableError('x')).not.toBeInstanceOf(OrderRejected);
    expect(new OrderRejected('x')).toBeInstanceOf(core.NonRetryableError);
  });

  it('a NonRetryableError from the other copy is dead-lettered at once, not retried', async () => {
    const bus = await core.createBus({ url: `memory://second-copy-${Date.now()}`, service: 'svc', logger: core.silentLogger });
    buses.push(bus);
    const dead: core.Message[] = [];
    await bus.subscribe('orders.dlq', (m) => void dead.push(m));
    let calls = 0;
    await bus.subscribe('orders', () => {
      calls++;
      throw new other.NonRetryableError('total is negative');
    });
    await bus.publish('orders', { total: -1 });
    await waitFor(dead, 1);
    expect(calls).toBe(1);
    expect(dead[0]!.headers['x-switchyard-attempts']).toBe('1');
  });

  it("a bus from our copy over the other copy's transport reports the other copy's errors as ours", async () => {
    const transport = await otherSpi.createTransport(new URL(`memory://second-copy-transport-${Date.now()}`), { service: 'svc', logger: other.silentLogger });
    const bus = await core.createBus({ transport, service: 'svc', logger: core.silentLogger });
    await transport.close();
    // The transport (other copy) throws its ClosedError; the bus passes it on as a Switchyard error.
    const err = await bus.publish('orders', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(core.ClosedError);
    await bus.close();
  });
});
