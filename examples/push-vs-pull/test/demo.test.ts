import { expect, it } from 'vitest';
import { runPushVsPull } from '../src/demo.js';

it('delivers every job to both the push group and the pull group; pull takes batches of at most 5', async () => {
  const lines: string[] = [];
  const summary = await runPushVsPull({ url: 'memory://push-pull-test', say: (l) => lines.push(l), jobs: 12 });
  expect(summary.pushed).toBe(12);
  expect(summary.pulled).toBe(12);
  expect(summary.batches.every((b) => b >= 1 && b <= 5)).toBe(true);
  expect(summary.batches.reduce((a, b) => a + b, 0)).toBe(12);
  expect(lines.some((l) => l.startsWith('  [push]'))).toBe(true);
});
