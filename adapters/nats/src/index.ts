/**
 * @switchyard/nats — NATS JetStream for Switchyard. Core's registry imports `createTransport` for
 * nats:// URLs; apps never call it directly:
 *
 *   const bus = await createBus({ url: 'nats://user:pass@nats:4222?ackWaitMs=30000', service: 'orders' });
 */
import type { TransportFactory } from '@switchyard/core';
import { createNatsTransport } from './transport.js';

export const createTransport: TransportFactory = (url, context) => createNatsTransport(url, context);
