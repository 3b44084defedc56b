import { runConformance } from '@switchyard/conformance';
import { KAFKA_URL, restartKafka } from './helpers.js';

runConformance({
  name: 'kafka',
  url: KAFKA_URL,
  restartBroker: restartKafka,
  // Group joins and rebalances take seconds on Kafka.
  timeoutScale: 2,
});
