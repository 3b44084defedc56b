import { runConformance } from '../src/index.js';

// memory:// playing a broker with short native limits (SQS: 15 min publish delay, Pub/Sub: 600 s
// nack) scaled down to 100 ms, and counts that may lag: core waits out or republishes the rest.
runConformance({ name: 'memory-limits', url: 'memory://limits?maxNackDelayMs=100&maxDelayMs=100&deliveryCount=approximate' });
