import { defineConfig } from 'vitest/config';

// Needs PostgreSQL (package.json "switchyard": { "testNeedsBrokers": true }): npm test runs it after scripts/brokers up.
export default defineConfig({ test: { name: 'example-outbox', include: ['test/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 30_000 } });
