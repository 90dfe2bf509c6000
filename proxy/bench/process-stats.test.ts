import { describe, expect, it } from 'vitest';
import { cpuMs, memoryBytes } from './process-stats.ts';

describe('process stats from /proc', () => {
  it("reads this process's resident and peak memory, and CPU time that grows with work", async () => {
    const rss = await memoryBytes(process.pid, 'VmRSS');
    const peak = await memoryBytes(process.pid, 'VmHWM');
    expect(rss).toBeGreaterThan(1024 * 1024);
    expect(peak).toBeGreaterThanOrEqual(rss);
    const before = await cpuMs(process.pid);
    const until = Date.now() + 100;
    while (Date.now() < until); // 100 ms of CPU
    expect(await cpuMs(process.pid)).toBeGreaterThan(before);
    expect(await cpuMs(process.pid, { children: true })).toBeGreaterThanOrEqual(await cpuMs(process.pid));
  });
});
