import { defineConfig } from 'vitest/config';

// Needs Redis (and RabbitMQ for the bus and two-process tests): scripts/test.mjs runs this
// project in its own stage after `scripts/brokers up` (package.json: switchyard.testNeedsBrokers).
export default defineConfig({
  test: {
    name: 'redis',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxConcurrency: 8,
  },
});
