import { describe, expect, it } from 'vitest';
import { comparisonRows, figures, markdownTable, type RunResult } from './comparison.ts';

const run = (subject: RunResult['subject'], o: Partial<RunResult> = {}): RunResult => ({
  subject,
  mode: 'nftables',
  services: 1000,
  startMs: 1000,
  firstSyncMs: 600,
  changeMs: [100],
  cpuSeconds: 1,
  peakRssMiB: 100,
  rulesetLines: 10,
  ...o,
});

describe('bench:vs-kube-proxy table', () => {
  it('medians over rounds, one row per figure, ratio kpng / kube-proxy', () => {
    const rows = comparisonRows([
      run('kube-proxy', { startMs: 4000 }),
      run('kpng', { startMs: 1000 }),
      run('kube-proxy', { startMs: 2000 }),
      run('kpng', { startMs: 3000 }),
      run('kube-proxy', { startMs: 6000 }),
      run('kpng', { startMs: 2000 }),
    ]);
    expect(rows.map((r) => r.figure)).toEqual(figures.map((f) => f.name));
    const start = rows[0]!;
    expect(start['kube-proxy']).toBe('4.00 s');
    expect(start.kpng).toBe('2.00 s');
    expect(start['kpng / kube-proxy']).toBe('0.50');
    expect(start['kube-proxy min-sync 0']).toBe('');
  });

  it("splits the start: the first sync as each proxy's own metric measured it, beside the whole", () => {
    const rows = comparisonRows([run('kube-proxy', { startMs: 9000, firstSyncMs: 8000 }), run('kpng', { startMs: 11000, firstSyncMs: 9200 })]);
    const sync = rows[1]!;
    expect(sync.figure).toContain('first sync');
    expect([sync['kube-proxy'], sync.kpng, sync['kpng / kube-proxy']]).toEqual(['8.00 s', '9.20 s', '1.15']);
  });

  it('change latency is compared with kube-proxy at min-sync 0 when that ran', () => {
    const rows = comparisonRows([
      run('kube-proxy', { changeMs: [1000, 1100, 1200] }),
      run('kube-proxy min-sync 0', { changeMs: [200, 200, 200] }),
      run('kpng', { changeMs: [20, 20, 40] }),
    ]);
    const p50 = rows.find((r) => r.figure.endsWith('p50'))!;
    expect(p50['kube-proxy']).toBe('1100 ms');
    expect(p50['kube-proxy min-sync 0']).toBe('200 ms');
    expect(p50.kpng).toBe('20 ms');
    expect(p50['kpng / kube-proxy']).toBe('0.10');
    const p99 = rows.find((r) => r.figure.endsWith('p99'))!;
    expect(p99.kpng).toBe('40 ms');
    expect(p99['kpng / kube-proxy']).toBe('0.20');
  });

  it('a run that did not finish within the cap says so and has no ratio', () => {
    const rows = comparisonRows([run('kube-proxy', { startMs: undefined, firstSyncMs: undefined, changeMs: [] }), run('kpng', { startMs: 5000 })]);
    expect(rows[0]!['kube-proxy']).toBe('not finished');
    expect(rows[0]!['kpng / kube-proxy']).toBe('—');
    expect(rows[2]!['kube-proxy']).toBe('not finished');
  });

  it('a run whose first-sync metric was not read says so, not that it did not finish', () => {
    const rows = comparisonRows([run('kube-proxy', { firstSyncMs: undefined }), run('kpng')]);
    expect(rows[1]!['kube-proxy']).toBe('not read');
    expect(rows[1]!['kpng / kube-proxy']).toBe('—');
  });

  it('groups by mode and size in the order they ran; markdown has one line per row', () => {
    const rows = comparisonRows([run('kpng'), run('kpng', { mode: 'iptables-legacy' }), run('kpng', { services: 10_000 })]);
    expect([...new Set(rows.map((r) => `${r.mode} ${r.services}`))]).toEqual(['nftables 1000', 'iptables-legacy 1000', 'nftables 10000']);
    const md = markdownTable(rows).trimEnd().split('\n');
    expect(md).toHaveLength(rows.length + 2);
    expect(md[0]).toBe('| mode | services | figure | kube-proxy | kube-proxy min-sync 0 | kpng | kpng / kube-proxy |');
    expect(md.at(-1)).toContain('| 10,000 |');
  });
});
