import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createBus, pinoLogger } from '../src/index.js';

/** A real pino logger writing JSON lines into an array. */
function collectingPino() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug', base: null, timestamp: false }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe('pinoLogger', () => {
  it('hands pino the fields first and the message second, at every level', () => {
    const { logger, lines } = collectingPino();
    const adapted = pinoLogger(logger);
    adapted.debug('d', { topic: 'a' });
    adapted.info('i', { topic: 'b' });
    adapted.warn('w', { topic: 'c', attempt: 2 });
    adapted.error('e');
    expect(lines).toEqual([
      { level: 20, topic: 'a', msg: 'd' },
      { level: 30, topic: 'b', msg: 'i' },
      { level: 40, topic: 'c', attempt: 2, msg: 'w' },
      { level: 50, msg: 'e' },
    ]);
  });

  it("keeps the bus's fields when core logs (a failing reply handler)", async () => {
    const { logger, lines } = collectingPino();
    const bus = await createBus({ url: 'memory://', service: 'orders', logger: pinoLogger(logger) });
    try {
      await bus.reply('inventory.check', async () => {
        throw new Error('out of stock');
      });
      await expect(bus.request('inventory.check', { sku: 'A' })).rejects.toThrow('out of stock');
      const line = lines.find((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('Reply handler failed'));
      expect(line).toMatchObject({ level: 40, topic: 'inventory.check', error: 'out of stock' });
      expect(typeof line?.['id']).toBe('string');
    } finally {
      await bus.close();
    }
  });
});
