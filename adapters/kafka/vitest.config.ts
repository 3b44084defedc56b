import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'kafka',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxConcurrency: 6,
    // The conformance restart case restarts the broker: files must not run beside it.
    fileParallelism: false,
  },
});
