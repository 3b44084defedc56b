import { memoryIdempotencyStore } from '@switchyard/core';
import { runStoreConformance } from '../src/index.js';

// One in-process store plays the shared server: every "client" is the same instance, the way
// every handler of one process shares it.
const shared = memoryIdempotencyStore();

runStoreConformance({ name: 'memory', createStore: async () => shared });
