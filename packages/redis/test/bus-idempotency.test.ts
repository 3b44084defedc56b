/**
 * The bus-level idempotency cases (duplicates, failure releases, groups sharing a store, repeated
 * requests) with this store instead of the memory one: on the memory transport and on RabbitMQ.
 */
import { fileURLToPath } from 'node:url';
import { runConformance } from '@switchyard/conformance';
import { redisIdempotencyStore } from '../src/index.js';
import { KAFKA_URL, REDIS_URL, rabbitUrl, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('bus');
// Kept apart from the broker reports: the README's broker matrix must not count these partial runs.
const reportDir = fileURLToPath(new URL('../conformance-reports', import.meta.url));
const createStore = async () => redisIdempotencyStore({ url: REDIS_URL, prefix });

runConformance({ name: 'memory+redis', url: 'memory://', createStore, only: ['idempotency.'], reportDir });
runConformance({ name: 'rabbitmq+redis', url: rabbitUrl(), createStore, only: ['idempotency.'], reportDir });
runConformance({ name: 'kafka+redis', url: KAFKA_URL, createStore, only: ['idempotency.'], reportDir });
