import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'conformance-memory',
    include: ['test/**/*.test.ts'],
    maxConcurrency: 8,
  },
});
