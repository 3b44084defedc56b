import { runConformance } from '@switchyard/conformance';
import { PUBSUB_URL } from './helpers.js';

// No restartBroker: both Pub/Sub emulators keep everything in memory, so a restart loses every
// topic and message (capabilities.persistent is false with an emulator; the case is n/a).
// test/reconnect.test.ts proves the transport resumes after `scripts/brokers restart pubsub`.
runConformance({ name: 'pubsub', url: PUBSUB_URL });
