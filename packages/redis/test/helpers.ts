import { randomUUID } from 'node:crypto';

/** Where the tests find Redis and RabbitMQ: SWITCHYARD_TEST_*_URL, else what `scripts/brokers up` starts. */
export const REDIS_URL = env('SWITCHYARD_TEST_REDIS_URL') ?? 'redis://127.0.0.1:6379';
export const RABBITMQ_URL = env('SWITCHYARD_TEST_RABBITMQ_URL') ?? 'amqp://guest:guest@127.0.0.1:5672';
export const KAFKA_URL = env('SWITCHYARD_TEST_KAFKA_URL') ?? 'kafka://127.0.0.1:9092';

function env(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A key prefix no other run uses, so runs never see each other's claims. */
export function uniquePrefix(label: string): string {
  return `sy-test:${label}:${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
}

/** The RabbitMQ URL with test queues that expire once unused, so repeated runs don't pile up queues. */
export function rabbitUrl(): string {
  const url = new URL(RABBITMQ_URL);
  url.searchParams.set('queueExpiresMs', '600000');
  return url.toString();
}
