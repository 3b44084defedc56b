import { runConformance } from '@switchyard/conformance';
import { RABBITMQ_URL, restartRabbit, urlWith } from './helpers.js';

runConformance({
  name: 'rabbitmq',
  // Test queues expire 10 minutes after their last use, so repeated runs don't pile up quorum queues.
  url: urlWith({ queueExpiresMs: '600000' }, RABBITMQ_URL),
  restartBroker: restartRabbit,
});
