/**
 * Closing cleanly: what the adapter logs when a bus goes away on purpose.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBus, type Logger } from '@switchyard/core';
import { urlWith } from './helpers.js';

/** Records every warning and error. */
class Recorder implements Logger {
  readonly warnings: string[] = [];
  debug = () => undefined;
  info = () => undefined;
  warn = (message: string) => void this.warnings.push(message);
  error = (message: string) => void this.warnings.push(message);
}

const uid = () => randomUUID().slice(0, 8);

describe('amqp close', () => {
  it('closing a bus after a request logs no warning (deleting our own inbox is not a server cancel)', async () => {
    const logger = new Recorder();
    const bus = await createBus({ url: urlWith({ queueExpiresMs: '600000' }), service: `lc-${uid()}`, logger });
    const topic = `lc.rr.${uid()}`;
    await bus.reply(topic, (m) => m.body);
    await expect(bus.request(topic, 'ping', { timeoutMs: 10_000 })).resolves.toBe('ping');
    // close() resolves after the connection is closed: any cancel notification has arrived by then.
    await bus.close();
    expect(logger.warnings).toEqual([]);
  });
});
