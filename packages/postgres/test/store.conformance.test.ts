import { fileURLToPath } from 'node:url';
import { CuttableProxy, runStoreConformance } from '@switchyard/conformance';
import { afterAll } from 'vitest';
import { postgresIdempotencyStore } from '../src/index.js';
import { dropTables, POSTGRES_URL, uniqueTable } from './helpers.js';

const table = uniqueTable('store');
const target = new URL(POSTGRES_URL);
const proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
afterAll(async () => {
  await proxy.close();
  await dropTables(table);
});

runStoreConformance({
  name: 'postgres',
  reportDir: fileURLToPath(new URL('../conformance-reports', import.meta.url)),
  // Every call opens its own pool, as another process would; the first ones race to create the table.
  createStore: async () => postgresIdempotencyStore({ connectionString: POSTGRES_URL, table, createTable: true, poolSize: 2 }),
  outage: {
    // Through the proxy, with a short timeout so each refused call fails within a second.
    createStore: async () => postgresIdempotencyStore({ connectionString: proxy.url(POSTGRES_URL), table, createTable: true, commandTimeoutMs: 1000 }),
    cut: async () => {
      proxy.cut();
      return async () => proxy.restore();
    },
  },
});
