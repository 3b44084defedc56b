import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** Where the tests find PostgreSQL and the brokers: SWITCHYARD_TEST_*_URL, else what `scripts/brokers up` starts. */
export const POSTGRES_URL = env('SWITCHYARD_TEST_POSTGRES_URL') ?? 'postgres://switchyard:switchyard@127.0.0.1:5432/switchyard';
export const RABBITMQ_URL = env('SWITCHYARD_TEST_RABBITMQ_URL') ?? 'amqp://guest:guest@127.0.0.1:5672';
export const KAFKA_URL = env('SWITCHYARD_TEST_KAFKA_URL') ?? 'kafka://127.0.0.1:9092';

function env(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A table name no other run uses (tests create it and drop it when done). */
export function uniqueTable(label: string): string {
  return `sy_test_${label}_${Date.now().toString(36)}_${randomUUID().slice(0, 6)}`.replaceAll('-', '_');
}

/** Drop test tables (and anything in them); for afterAll/afterEach. */
export async function dropTables(...tables: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    for (const table of tables)
      await client.query(
        `DROP TABLE IF EXISTS ${table
          .split('.')
          .map((p) => `"${p}"`)
          .join('.')}`,
      );
  } finally {
    await client.end();
  }
}

/** The RabbitMQ URL with test queues that expire once unused, so repeated runs don't pile up queues. */
export function rabbitUrl(): string {
  const url = new URL(RABBITMQ_URL);
  url.searchParams.set('queueExpiresMs', '600000');
  return url.toString();
}
