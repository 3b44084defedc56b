import { runConformance } from '@switchyard/conformance';
import { NATS_URL, restartNats } from './helpers.js';

runConformance({
  name: 'nats',
  url: NATS_URL,
  restartBroker: restartNats,
});
