/**
 * @switchyard/cli — the `switchyard` command. The binary is the product; these exports let a
 * script run a command in-process and reuse the AsyncAPI generator.
 */
export { main, commands } from './main.js';
export { ExitCode, type ExitCodeValue } from './exit-codes.js';
export { toAsyncApi, type AsyncApiOptions } from './asyncapi/document.js';
