/**
 * @switchyard/kafka — the kafka:// transport. core imports this package on demand when a bus
 * URL starts with kafka://; apps never call it directly.
 */
import type { TransportFactory } from '@switchyard/core';
import { createKafkaTransport } from './transport.js';

export const createTransport: TransportFactory = createKafkaTransport;
