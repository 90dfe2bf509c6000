import { describe, expect, it } from 'vitest';
import { localStateOf } from '../../model/testing.ts';
import { ProxyMetrics } from '../../runtime/index.ts';
import { dataplaneFor } from './dataplanes.testkit.ts';
import { MetricsPage } from './metrics-text.ts';
import { marksOf, syncedSince } from './proxy-under-test.testkit.ts';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0, 250);

describe('when a change counts as synced (the suite’s wait)', () => {
  const state = localStateOf([]);
  const page = async (m: ProxyMetrics) => new MetricsPage(await m.registry.metrics());
  const fresh = () => new ProxyMetrics({ backend: 'iptables', failures: 'iptables-restore', families: ['IPv4', 'IPv6'], processMetrics: false });

  it('reads the proxy’s real metrics: queued at or after the write, synced after that, nothing pending', async () => {
    const m = fresh();
    expect(syncedSince(await page(m), t0)).toBe(false); // nothing yet
    m.queued(t0 + 5, { services: 1, endpoints: 0 });
    m.pending({ services: 1, endpoints: 0 });
    expect(syncedSince(await page(m), t0)).toBe(false); // queued, not synced
    m.synced({ full: true, seconds: 0.01, at: t0 + 20, stats: { full: true }, state, programmingSeconds: [] });
    expect(syncedSince(await page(m), t0)).toBe(false); // synced, still pending
    m.pending({ services: 0, endpoints: 0 });
    expect(syncedSince(await page(m), t0)).toBe(true);
    expect(syncedSince(await page(m), t0 + 6)).toBe(false); // a later write has not been queued
  });

  it('a sync that ended before the state was queued does not count', async () => {
    const m = fresh();
    m.synced({ full: true, seconds: 0.01, at: t0 + 1, stats: { full: true }, state, programmingSeconds: [] });
    m.queued(t0 + 2, { services: 0, endpoints: 1 });
    m.pending({ services: 0, endpoints: 0 });
    expect(syncedSince(await page(m), t0)).toBe(false);
  });

  it('counts full and partial syncs and failures once, whatever the number of families', async () => {
    const m = fresh();
    m.synced({ full: true, seconds: 0.01, at: t0, stats: { full: true }, state, programmingSeconds: [] });
    m.synced({ full: false, seconds: 0.01, at: t0 + 1, stats: { full: false }, state, programmingSeconds: [] });
    m.synced({ full: false, seconds: 0.01, at: t0 + 2, stats: { full: false }, state, programmingSeconds: [] });
    m.failed(true);
    expect(marksOf(await page(m), dataplaneFor('iptables-nft'))).toEqual({ lastSync: t0 + 2, full: 1, partial: 2, failures: 1 });
  });
});
