/** The shop's contract, for `switchyard asyncapi examples/order-processing/dist/contract.js`. */
export { shop, type OrderPlaced } from '@switchyard/cli/demo';
