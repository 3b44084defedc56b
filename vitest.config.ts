import { defineConfig } from 'vitest/config';

// Each workspace with tests has its own vitest.config.ts; scripts/test.mjs runs them in stages
// (unit tests in parallel, broker suites one project at a time, since some restart a broker).
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'conformance/vitest.config.ts',
      'examples/*/vitest.config.ts',
      'adapters/*/vitest.config.ts',
      'scripts/*/vitest.config.ts',
      'bench/vitest.config.ts',
    ],
  },
});
