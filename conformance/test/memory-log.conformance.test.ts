import { runConformance } from '../src/index.js';

// memory:// playing a log-based broker (Kafka's gaps): nothing is taken back (core retries in
// place), delays are emulated (ce-notbefore), and no delivery count (core counts by brokerId).
runConformance({ name: 'memory-log', url: 'memory://log?nack=none&delay=emulated&deliveryCount=absent' });
