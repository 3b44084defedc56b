import { runConformance } from '../src/index.js';

// memory:// simulating a lease-based broker (SQS, Pub/Sub, JetStream): unsettled deliveries come
// back after 300 ms unless core's lease keeper extends them. Every case must hold under it.
runConformance({ name: 'memory-leases', url: 'memory://leases?ackDeadlineMs=300' });
