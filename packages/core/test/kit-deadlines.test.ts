import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../src/spi-entry.js';

describe('Deadlines (confirm timeouts on one timer)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('expires what was not cleared within withinMs, oldest first, on one timer that stops when nothing is outstanding', () => {
    const deadlines = new Deadlines(1000, 100);
    const expired: string[] = [];
    deadlines.add(() => expired.push('a'));
    vi.advanceTimersByTime(300);
    const b = deadlines.add(() => expired.push('b'));
    deadlines.add(() => expired.push('c'));
    expect(vi.getTimerCount()).toBe(1);
    b.clear();
    vi.advanceTimersByTime(800);
    expect(expired).toEqual(['a']);
    vi.advanceTimersByTime(600);
    expect(expired).toEqual(['a', 'c']);
    expect(deadlines.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fires an entry at most one period late, and never early', () => {
    const deadlines = new Deadlines(1000, 100);
    let expiredAt: number | undefined;
    const start = Date.now();
    deadlines.add(() => (expiredAt = Date.now() - start));
    vi.advanceTimersByTime(999);
    expect(expiredAt).toBeUndefined();
    vi.advanceTimersByTime(200);
    expect(expiredAt).toBeGreaterThanOrEqual(1000);
    expect(expiredAt).toBeLessThanOrEqual(1100);
  });
});
