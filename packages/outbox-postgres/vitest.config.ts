import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'outbox-postgres',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Files share one PostgreSQL and one RabbitMQ; each test uses its own table and topics, but the
    // outage and crash tests time things, so files run one at a time (as in npm test's broker stages).
    fileParallelism: false,
  },
});
