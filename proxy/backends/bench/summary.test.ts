import { describe, expect, it } from 'vitest';
import { duration, percentile, startAndChangeTable } from './summary.ts';

describe('percentile', () => {
  it('is the nearest rank: p50 of 1..100 is 50, p99 is 99, p100 the largest; none for no rounds', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeUndefined();
  });
});

describe('startAndChangeTable', () => {
  it('prints one Markdown row per backend and size: start is setup plus the first full sync, changes as p50/p99 over the rounds', () => {
    const table = startAndChangeTable([
      { backend: 'eBPF socket LB', services: 10000, setupMs: 512.3, firstSyncMs: 5440, changeMs: [30, 40, 35, 250], peakRssMiB: 612.4 },
      { backend: 'nftables', services: 10000, setupMs: 12.25, firstSyncMs: 'killed after 900 s', changeMs: [], peakRssMiB: 300 },
    ]);
    expect(table.split('\n')).toEqual([
      '| backend | Services | setup | start → filled (setup + first full sync) | one endpoint change p50 | p99 | rounds | peak RSS |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      '| eBPF socket LB | 10,000 | 512 ms | 5.95 s | 35.0 ms | 250 ms | 4 | 612 MiB |',
      '| nftables | 10,000 | 12.3 ms | killed after 900 s | — | — | 0 | 300 MiB |',
      '',
    ]);
  });

  it('writes durations in the unit a reader compares: one decimal below 100 ms, whole ms below 1 s, seconds above', () => {
    expect([duration(3.14), duration(131.4), duration(1234), duration(16_234)]).toEqual(['3.1 ms', '131 ms', '1.23 s', '16.2 s']);
  });
});
