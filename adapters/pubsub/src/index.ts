/**
 * @switchyard/pubsub — the gcppubsub:// transport. core imports this package on demand when a bus
 * URL starts with gcppubsub://; apps never call it directly.
 */
import type { TransportFactory } from '@switchyard/core';
import { createPubSubTransport } from './transport.js';

export const createTransport: TransportFactory = createPubSubTransport;
export { subscriptionId, topicId } from './names.js';
