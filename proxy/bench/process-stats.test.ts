import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpuMs, memoryBytes, waitedChildrenCpuMs } from './process-stats.ts';

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

  it('counts the CPU time of a child once it has been waited for', async () => {
    const before = await waitedChildrenCpuMs(process.pid);
    // A child that spins for 200 ms of CPU (on a loaded machine it may take far longer to get it).
    execFileSync(process.execPath, ['-e', 'const t = process.cpuUsage(); while (process.cpuUsage(t).user < 200_000);']);
    expect((await waitedChildrenCpuMs(process.pid)) - before).toBeGreaterThanOrEqual(190);
  }, 120_000);
});
