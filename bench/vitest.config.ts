import { defineConfig } from 'vitest/config';

// Needs every broker (package.json "switchyard": { "testNeedsBrokers": true }): npm test runs it after scripts/brokers up.
export default defineConfig({
  test: {
    name: 'bench',
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    // @google-cloud/pubsub's auth library otherwise probes the GCE metadata server in emulator mode.
    env: { METADATA_SERVER_DETECTION: 'none' },
  },
});
