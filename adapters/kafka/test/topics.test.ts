/** Kafka topic naming rules the adapter cannot map away and reports instead. */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createBus, silentLogger, type Bus } from '@switchyard/core';
import { KAFKA_URL } from './helpers.js';

const buses: Bus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close({ drainTimeoutMs: 1000 })));
});

const uid = () => randomUUID().slice(0, 8);

async function bus(): Promise<Bus> {
  const b = await createBus({ url: KAFKA_URL, service: `topics-${uid()}`, logger: silentLogger });
  buses.push(b);
  return b;
}

describe('kafka topic names', () => {
  it("a topic whose name differs from an existing one only by '.' versus '_' is a ConfigurationError that names both", async () => {
    const id = uid();
    const existing = `coll.${id}.orders`;
    const colliding = `coll_${id}_orders`;
    const b = await bus();
    await b.publish(existing, { n: 1 });
    const refused = await b.publish(colliding, { n: 2 }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ERR_CONFIGURATION', name: 'ConfigurationError' });
    const message = (refused as Error).message;
    expect(message).toContain(`"${colliding}"`);
    expect(message).toContain(`"${existing}"`);
    expect(message).toMatch(/"\." and "_"/);
    expect(message).toMatch(/Rename one/);
    // The cause is the broker's answer, not the client's error object.
    expect((refused as Error).cause).toBeInstanceOf(Error);
    expect(((refused as Error).cause as Error).message).toContain('INVALID_TOPIC_EXCEPTION');
    expect(inspect(refused, { depth: 10 })).not.toMatch(/KafkaJS/);
    // Not cached as a failure of the moment: asked again, the same answer; subscribing too.
    await expect(b.publish(colliding, { n: 3 })).rejects.toMatchObject({ code: 'ERR_CONFIGURATION' });
    await expect(b.subscribe(colliding, () => undefined, { group: `g-${id}` })).rejects.toMatchObject({ code: 'ERR_CONFIGURATION' });
    // The existing topic still works.
    await expect(b.publish(existing, { n: 4 })).resolves.toMatchObject({ id: expect.any(String) });
  });
});
