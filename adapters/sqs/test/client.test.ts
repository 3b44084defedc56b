/** The SDK client every command goes through. */
import { describe, expect, it } from 'vitest';
import { createSqsClient } from '../src/client.js';
import { parseSqsUrl } from '../src/options.js';

describe('SQS client', () => {
  it('has no logger middleware: nothing filters every command for a logger that drops it', () => {
    const client = createSqsClient(parseSqsUrl(new URL('sqs://127.0.0.1:9324'), {}));
    try {
      const stack = client.middlewareStack.identify();
      expect(stack.some((entry) => entry.startsWith('serializerMiddleware'))).toBe(true);
      expect(stack.filter((entry) => /logger/i.test(entry))).toEqual([]);
    } finally {
      client.destroy();
    }
  });
});
