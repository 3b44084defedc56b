import { CuttableProxy, runStoreConformance } from '@switchyard/conformance';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { redisIdempotencyStore } from '../src/index.js';
import { REDIS_URL, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('store');
const target = new URL(REDIS_URL);
const proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
afterAll(() => proxy.close());

runStoreConformance({
  name: 'redis',
  reportDir: fileURLToPath(new URL('../conformance-reports', import.meta.url)),
  // Every call opens its own connection, as another process would.
  createStore: async () => redisIdempotencyStore({ url: REDIS_URL, prefix }),
  outage: {
    // Through the proxy, with a short command timeout so each refused call fails within a second.
    createStore: async () => redisIdempotencyStore({ url: proxy.url(REDIS_URL), prefix, commandTimeoutMs: 1000 }),
    cut: async () => {
      proxy.cut();
      return async () => proxy.restore();
    },
  },
});
