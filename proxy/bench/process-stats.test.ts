import { describe, expect, it } from 'vitest';
import { cpuMs, memoryBytes } from './process-stats.ts';

describe('process stats from /proc', () => {
  it("reads this process's resident and peak memory, and CPU time that grows with work", async () => {
    const rss = await memoryBytes(process.pid, 'VmRSS');
    const peak = await memoryBytes(process.pid, 'VmHWM');
    expect(rss).toBeGreaterThan(1024 * 1024);
    // The kernel updates the high-water mark lazily, so it may trail the current RSS a little.
    expect(peak).toBeGreaterThan(1024 * 1024);
    // CPU time counts in clock ticks: spin until at least one more tick is charged (on a
    // loaded machine a short spin may get none), within a generous bound.
    const before = await cpuMs(process.pid);
    let after = before;
    for (const deadline = Date.now() + 10_000; after <= before && Date.now() < deadline; ) {
      const until = Date.now() + 50;
      while (Date.now() < until);
      after = await cpuMs(process.pid);
    }
    expect(after).toBeGreaterThan(before);
    // Read the process alone first: with its children, read later, it cannot be less.
    const self = await cpuMs(process.pid);
    expect(await cpuMs(process.pid, { children: true })).toBeGreaterThanOrEqual(self);
  });
});
