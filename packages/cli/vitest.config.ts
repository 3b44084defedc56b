import { defineConfig } from 'vitest/config';

// Drives the built `switchyard` binary as a child process against memory://, RabbitMQ and Kafka:
// scripts/test.mjs runs this project in its own stage after `scripts/brokers up`
// (package.json: switchyard.testNeedsBrokers). Build first: the tests run dist/bin.js.
export default defineConfig({
  test: {
    name: 'cli',
    include: ['test/**/*.test.ts'],
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
});
