/**
 * @switchyard/amqp — RabbitMQ for Switchyard. Core's registry imports `createTransport` for
 * amqp:// and amqps:// URLs; apps never call it directly:
 *
 *   const bus = await createBus({ url: 'amqp://user:pass@rabbit:5672/%2F?heartbeat=15', service: 'orders' });
 */
import type { TransportFactory } from '@switchyard/core';
import { createAmqpTransport } from './transport.js';

export const createTransport: TransportFactory = (url, context) => createAmqpTransport(url, context);
