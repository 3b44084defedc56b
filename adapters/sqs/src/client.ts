/**
 * The one SQSClient a transport sends every command through, configured for this adapter: no SDK
 * retries (core's retrying() decides per call site), keep-alive sockets, and as little SDK work
 * per command as the SDK allows — its CPU per command is most of this adapter's CPU per message.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SqsSettings } from './options.js';

/** How much longer than the long-poll wait a request may take before it fails (requestTimeout). */
const REQUEST_SLACK_MS = 15_000;

export function createSqsClient(settings: SqsSettings, requestSlackMs = REQUEST_SLACK_MS): SQSClient {
  const agent = { keepAlive: true, maxSockets: 256 };
  const client = new SQSClient({
    ...(settings.region === undefined ? {} : { region: settings.region }),
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
    // Retries go through core's retrying(), where each call site decides what is worth repeating.
    maxAttempts: 1,
    // Resolve each command's middleware stack once, not on every call (the SDK's throughput
    // option): nothing here changes the stack after construction.
    cacheMiddleware: true,
    requestHandler: {
      httpAgent: new HttpAgent(agent),
      httpsAgent: new HttpsAgent(agent),
      connectionTimeout: 5000,
      requestTimeout: settings.options.waitTimeSeconds * 1000 + requestSlackMs,
      // Without it the SDK only prints a warning to the console when requestTimeout passes and
      // keeps waiting: a command to an endpoint that accepted the connection and went silent
      // would never end (connect, publish, a receive loop).
      throwOnRequestTimeout: true,
    },
  });
  // The SDK's logger middleware copies every command's input and output through its
  // sensitive-field filter (every message attribute, both ways) to hand the copy to the client's
  // logger, which is the SDK's no-op one here: about 3 % of the CPU per message of publish →
  // handler (perf, npm run bench's e2e-c16), for nothing.
  client.middlewareStack.removeByTag('LOGGER');
  return client;
}
