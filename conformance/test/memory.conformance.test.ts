import { runConformance } from '../src/index.js';

runConformance({ name: 'memory', url: 'memory://' });
