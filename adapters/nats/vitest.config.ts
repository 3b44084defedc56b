import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'nats',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxConcurrency: 8,
    // The conformance suite restarts the server; other files must not run meanwhile.
    fileParallelism: false,
  },
});
