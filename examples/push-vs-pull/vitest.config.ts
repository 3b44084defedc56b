import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'example-push-vs-pull', include: ['test/**/*.test.ts'], testTimeout: 30_000 } });
