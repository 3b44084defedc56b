import { defineConfig } from 'vitest/config';

// Smoke tests of the local brokers (scripts/brokers up). Files run one at a time: restart.test.ts
// restarts shared brokers, which would break any other file talking to them at the same moment.
export default defineConfig({
  test: {
    name: 'brokers',
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: {
      // @google-cloud/pubsub's auth library otherwise probes the GCE metadata server (a
      // non-loopback address) even in emulator mode. Tests talk to 127.0.0.1 only.
      METADATA_SERVER_DETECTION: 'none',
    },
  },
});
