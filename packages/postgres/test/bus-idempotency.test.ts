/**
 * The bus-level idempotency cases (duplicates, failure releases, groups sharing a store, repeated
 * requests) with this store instead of the memory one: on memory, RabbitMQ and Kafka.
 */
import { fileURLToPath } from 'node:url';
import { runConformance } from '@switchyard/conformance';
import { afterAll } from 'vitest';
import { postgresIdempotencyStore } from '../src/index.js';
import { dropTables, KAFKA_URL, POSTGRES_URL, rabbitUrl, uniqueTable } from './helpers.js';

const table = uniqueTable('bus');
afterAll(() => dropTables(table));
// Kept apart from the broker reports: the README's broker matrix must not count these partial runs.
const reportDir = fileURLToPath(new URL('../conformance-reports', import.meta.url));
const createStore = async () => postgresIdempotencyStore({ connectionString: POSTGRES_URL, table, createTable: true, poolSize: 4 });

runConformance({ name: 'memory+postgres', url: 'memory://', createStore, only: ['idempotency.'], reportDir });
runConformance({ name: 'rabbitmq+postgres', url: rabbitUrl(), createStore, only: ['idempotency.'], reportDir });
runConformance({ name: 'kafka+postgres', url: KAFKA_URL, createStore, only: ['idempotency.'], reportDir });
