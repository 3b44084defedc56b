import type { ConformanceCase } from '../case.js';
import { Collector } from '../harness.js';

export const volumeCases: ConformanceCase[] = [
  {
    id: 'volume.10k-20-publishers',
    title: '10,000 messages from 20 concurrent publishers, none lost',
    timeoutMs: 300_000,
    exclusive: true,
    async run(h, expect) {
      const total = h.options.volumeMessages ?? 10_000;
      const publishers = await Promise.all(Array.from({ length: 4 }, () => h.bus()));
      const consumer = await h.bus();
      const topic = h.topic('volume');
      const seen = new Set<number>();
      const progress = new Collector<number>();
      await consumer.subscribe(
        topic,
        (m) => {
          const n = (m.body as { n: number }).n;
          if (!seen.has(n)) {
            seen.add(n);
            progress.push(n);
          }
        },
        { concurrency: 64 },
      );
      let next = 0;
      await Promise.all(
        Array.from({ length: 20 }, async (_, p) => {
          const bus = publishers[p % publishers.length]!;
          for (let n = next++; n < total; n = next++) await bus.publish(topic, { n, publisher: p }, { key: `p${p}` });
        }),
      );
      await progress.waitFor(total, 240_000);
      expect(seen.size).toBe(total);
    },
  },
];
