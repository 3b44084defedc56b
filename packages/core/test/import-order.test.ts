// Imported before anything else on purpose: registry.ts and the memory transport used to import
// each other, and loading the memory transport first crashed with a ReferenceError.
import { createMemoryTransport } from '../src/memory/transport.js';
import { expect, it } from 'vitest';

it('the memory transport loads on its own, before the registry', async () => {
  const transport = await createMemoryTransport(new URL('memory://import-order'), { service: 's', logger: { debug() {}, info() {}, warn() {}, error() {} } });
  expect(transport.name).toBe('memory');
  await transport.close();
});
