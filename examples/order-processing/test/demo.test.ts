import { expect, it } from 'vitest';
import { runOrderDemo } from '@switchyard/cli/demo';

it('tells the order story on memory: three orders placed and fanned out, one rejected, the malformed one dead-lettered by both consumers', async () => {
  const lines: string[] = [];
  const summary = await runOrderDemo({ url: 'memory://order-demo-test', say: (l) => lines.push(l) });
  expect(summary.placed).toHaveLength(3);
  expect(summary.rejected).toHaveLength(1);
  expect([...summary.notified].sort()).toEqual([...summary.placed].sort());
  expect([...summary.reported].sort()).toEqual([...summary.placed].sort());
  expect(summary.deadLettered).toHaveLength(2);
  for (const dead of summary.deadLettered) expect(dead.reason).toMatch(/customerEmail/);
  expect(lines.join('\n')).toMatch(/dead letter from notifications/);
  expect(lines.join('\n')).toMatch(/dead letter from reporting/);
});
