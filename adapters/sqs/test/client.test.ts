/** The SDK client every command goes through. */
import { createServer, type Socket } from 'node:net';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
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

  it('a request the endpoint never answers fails after requestTimeout instead of waiting forever', async () => {
    // An endpoint that accepts connections and then says nothing (a hung proxy, a half-dead host).
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const client = createSqsClient(parseSqsUrl(new URL(`sqs://127.0.0.1:${port}?waitTimeSeconds=1`), {}), 500);
    try {
      await expect(client.send(new ListQueuesCommand({}))).rejects.toThrow(/requestTimeout/);
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      client.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
