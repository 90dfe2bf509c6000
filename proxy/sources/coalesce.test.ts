import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Coalescer } from './coalesce.ts';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A coalescer whose runs take `runMs` and record when each began and which changes it saw. */
function recorder(quietMs: number, maxDelayMs: number, runMs = 0) {
  const changes: number[] = [];
  const runs: Array<{ at: number; upTo: number }> = [];
  const c = new Coalescer({
    quietMs,
    maxDelayMs,
    onError: () => {},
    run: async () => {
      runs.push({ at: Date.now(), upTo: changes.length });
      if (runMs > 0) await new Promise((r) => setTimeout(r, runMs));
    },
  });
  const change = () => {
    changes.push(Date.now());
    c.changed();
  };
  return { c, change, changes, runs };
}

describe('Coalescer', () => {
  it('runs once a burst has been quiet for quietMs, with every change of the burst', async () => {
    const { c, change, runs } = recorder(100, 1_000);
    for (let i = 0; i < 5; i++) {
      change();
      await vi.advanceTimersByTimeAsync(20);
    }
    await vi.advanceTimersByTimeAsync(79);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual([{ at: 180, upTo: 5 }]);
    await c.close();
  });

  it('changes every 10 ms for 5 s: runs come during them, each change is read within maxDelayMs (+ a run under way)', async () => {
    const runMs = 50;
    const { c, change, changes, runs } = recorder(100, 1_000, runMs);
    for (let t = 0; t < 5_000; t += 10) {
      change();
      await vi.advanceTimersByTimeAsync(10);
    }
    const end = Date.now();
    await vi.advanceTimersByTimeAsync(1_000 + runMs);
    expect(runs.filter((r) => r.at < end).length).toBeGreaterThanOrEqual(4);
    expect(runs.at(-1)!.upTo).toBe(changes.length);
    for (const [i, at] of changes.entries()) {
      const read = runs.find((r) => r.upTo > i)!;
      expect(read.at - at).toBeLessThanOrEqual(1_000 + runMs);
    }
    await c.close();
  });

  it('never runs twice at once: a run that comes due during another starts after it', async () => {
    let running = 0;
    let most = 0;
    const c = new Coalescer({
      quietMs: 10,
      maxDelayMs: 10,
      onError: () => {},
      run: async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 100));
        running--;
      },
    });
    for (let i = 0; i < 20; i++) {
      c.changed();
      await vi.advanceTimersByTimeAsync(15);
    }
    await vi.advanceTimersByTimeAsync(5_000);
    expect(most).toBe(1);
    await c.close();
  });

  it('close() waits for a run under way and starts no other; a failed run is reported, the next change runs again', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const c = new Coalescer({
      quietMs: 10,
      maxDelayMs: 100,
      onError: (err) => errors.push(err),
      run: async () => {
        runs++;
        if (runs === 1) throw new Error('unreadable');
      },
    });
    c.changed();
    await vi.advanceTimersByTimeAsync(10);
    expect(errors).toHaveLength(1);
    c.changed();
    await vi.advanceTimersByTimeAsync(10);
    expect(runs).toBe(2);
    c.changed();
    await c.close();
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toBe(2);
  });

  it('refuses a maxDelayMs shorter than quietMs', () => {
    expect(() => new Coalescer({ quietMs: 100, maxDelayMs: 10, run: async () => {}, onError: () => {} })).toThrow(/maxDelayMs \(10\) must be at least quietMs \(100\)/);
  });
});
