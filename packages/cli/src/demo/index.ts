/**
 * `@switchyard/cli/demo`: the order-processing story `switchyard demo` tells, for apps and
 * examples that want to run it themselves (examples/order-processing does).
 */
export { runOrderDemo, type DemoOptions, type DemoSummary } from './story.js';
export { shop, type OrderPlaced } from './contract.js';
