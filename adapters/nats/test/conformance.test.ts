import { afterAll } from 'vitest';
import { runConformance } from '@switchyard/conformance';
import { NATS_URL, removeTestStreams, restartNats } from './helpers.js';

const started = new Date();
afterAll(() => removeTestStreams(started, ['cf.']));

runConformance({
  name: 'nats',
  url: NATS_URL,
  restartBroker: restartNats,
});
