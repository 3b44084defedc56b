import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'pubsub',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxConcurrency: 6,
    // The reconnect test restarts the emulator: files must not run beside it.
    fileParallelism: false,
  },
});
