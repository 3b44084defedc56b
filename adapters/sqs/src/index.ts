/**
 * @switchyard/sqs — Amazon SQS for Switchyard. Core's registry imports `createTransport` for
 * sqs:// URLs; apps never call it directly:
 *
 *   const bus = await createBus({ url: 'sqs://?region=eu-west-1', service: 'orders' });
 *   const local = await createBus({ url: 'sqs://127.0.0.1:9324', service: 'orders' }); // ElasticMQ
 */
import type { TransportFactory } from '@switchyard/core';
import { createSqsTransport } from './transport.js';

export const createTransport: TransportFactory = (url, context) => createSqsTransport(url, context);
