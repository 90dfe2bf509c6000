import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from './health-server.ts';
import type { FailureMetric } from '../backends/backend.ts';
import { memoryLogger } from './log.ts';
import { ProxyMetrics, noLocalEndpointCounts, startMetricsServer, syncDurationBuckets } from './metrics.ts';
import { SyncRunner } from './sync-runner.ts';
import { fakeBackend, get, handOff, stateOf } from './testing.ts';

/** "name{labels} value" lines of a Prometheus text exposition, as a map. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const remoteOnly = { ip: '10.0.9.1', node: 'node-b' };

describe('metrics', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("serves kube-proxy's metric names and label sets on /metrics after syncs", async () => {
    const backend = fakeBackend('iptables');
    backend.outcomes.push({ full: true, rulesPerTable: { nat: 10, filter: 5, 'IPv6/nat': 7 } });
    const metrics = new ProxyMetrics({ backend: backend.name, failures: 'iptables-restore', families: ['IPv4', 'IPv6'] });
    const runner = new SyncRunner({ backend, logger: memoryLogger(), metrics });
    const [s1, s2] = handOff([
      stateOf([{ name: 'web', endpoints: ['10.0.1.1'] }]),
      stateOf([
        { name: 'web', endpoints: ['10.0.1.1', '10.0.1.2'] },
        { name: 'itp', opts: { clusterIPs: ['10.96.0.20'], itp: 'Local' }, endpoints: [remoteOnly] },
        { name: 'etp', opts: { clusterIPs: ['10.96.0.30'], type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }], etp: 'Local' }, endpoints: [remoteOnly] },
      ]),
    ]);
    await runner.start();
    runner.onLocal(s1!.state, s1!.changes);
    await runner.drain();
    runner.onLocal(s2!.state, s2!.changes, { changeTriggerTimes: [Date.now() - 2_500] });
    await runner.drain();
    await runner.stop();

    server = await startMetricsServer({ metrics, bind: { host: '127.0.0.1', port: 0 }, logger: memoryLogger() });
    const res = await get(`http://127.0.0.1:${server.address.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const s = samples(res.body);
    const v4 = '{ip_family="IPv4"}';
    expect(s.get(`kubeproxy_sync_proxy_rules_duration_seconds_count${v4}`)).toBe(2);
    expect(s.get(`kubeproxy_sync_full_proxy_rules_duration_seconds_count${v4}`)).toBe(1);
    expect(s.get(`kubeproxy_sync_partial_proxy_rules_duration_seconds_count${v4}`)).toBe(1);
    expect(s.get('kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family="IPv6"}')).toBe(2);
    // kube-proxy's buckets: 1 ms doubling, 15 of them.
    const les = [...s.keys()].filter((k) => k.startsWith('kubeproxy_sync_proxy_rules_duration_seconds_bucket{') && k.includes('IPv4')).map((k) => /le="([^"]+)"/.exec(k)![1]);
    expect(les).toEqual([...syncDurationBuckets.map(String), '+Inf']);
    expect(les[14]).toBe('16.384');
    expect(s.get(`kubeproxy_sync_proxy_rules_last_timestamp_seconds${v4}`)).toBeGreaterThan(1e9);
    expect(s.get(`kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds${v4}`)).toBeGreaterThan(1e9);
    // One change carried its observation time, 2.5 s before (not 2 s: a sync in the same
    // millisecond would observe exactly 2 s, which the le="2" bucket holds).
    expect(s.get(`kubeproxy_network_programming_duration_seconds_count${v4}`)).toBe(1);
    expect(s.get('kubeproxy_network_programming_duration_seconds_bucket{le="2",ip_family="IPv4"}')).toBe(0);
    expect(s.get('kubeproxy_network_programming_duration_seconds_bucket{le="3",ip_family="IPv4"}')).toBe(1);
    // s1: web added (service + endpoints); s2: web's endpoints, itp and etp added (itp
    // with no endpoint this node may use, so no endpoint change).
    expect(s.get('kubeproxy_sync_proxy_rules_service_changes_total')).toBe(3);
    expect(s.get('kubeproxy_sync_proxy_rules_endpoint_changes_total')).toBe(3);
    expect(s.get('kubeproxy_sync_proxy_rules_service_changes_pending')).toBe(0);
    expect(s.get('kubeproxy_sync_proxy_rules_endpoint_changes_pending')).toBe(0);
    expect(s.get(`kubeproxy_sync_proxy_rules_iptables_restore_failures_total${v4}`)).toBe(0);
    expect(s.get(`kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total${v4}`)).toBe(0);
    expect(s.get('kubeproxy_sync_proxy_rules_iptables_total{ip_family="IPv4",table="nat"}')).toBe(10);
    expect(s.get('kubeproxy_sync_proxy_rules_iptables_total{ip_family="IPv4",table="filter"}')).toBe(5);
    expect(s.get('kubeproxy_sync_proxy_rules_iptables_total{ip_family="IPv6",table="nat"}')).toBe(7);
    expect(s.get('kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv4",traffic_policy="internal"}')).toBe(1);
    expect(s.get('kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv4",traffic_policy="external"}')).toBe(1);
    expect(s.get('kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family="IPv6",traffic_policy="internal"}')).toBe(0);
    expect([...s.keys()].some((k) => k.startsWith('process_cpu_user_seconds_total'))).toBe(true);
  });

  it('answers /proxyMode with the backend name and /healthz with ok', async () => {
    const metrics = new ProxyMetrics({ backend: 'nftables', families: ['IPv4'], processMetrics: false });
    server = await startMetricsServer({ metrics, bind: { host: '127.0.0.1', port: 0 }, logger: memoryLogger() });
    const base = `http://127.0.0.1:${server.address.port}`;
    const mode = await get(`${base}/proxyMode`);
    expect([mode.status, mode.body, mode.headers['content-type']]).toEqual([200, 'nftables', 'text/plain; charset=utf-8']);
    const hz = await get(`${base}/healthz`);
    expect([hz.status, hz.body]).toEqual([200, 'ok']);
    expect((await get(`${base}/nope`)).status).toBe(404);
  });

  describe("failure counters follow the descriptor's metrics.failures", () => {
    async function counters(failures: FailureMetric | undefined, fails: boolean[]) {
      const m = new ProxyMetrics({ backend: 'x', ...(failures && { failures }), families: ['IPv4'], processMetrics: false });
      for (const full of fails) m.failed(full);
      const s = samples(await m.registry.metrics());
      return {
        restore: s.get('kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv4"}'),
        partial: s.get('kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total{ip_family="IPv4"}'),
        nft: s.get('kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family="IPv4"}'),
        any: s.get('kpng_sync_failures_total'),
      };
    }

    it('iptables: every failure is a restore failure, a failed partial sync also a partial restore failure', async () => {
      expect(await counters('iptables-restore', [false, true])).toEqual({ restore: 2, partial: 1, nft: undefined, any: 2 });
    });

    it('nftables: nftables sync failures', async () => {
      expect(await counters('nftables-sync', [true, false])).toEqual({ restore: undefined, partial: undefined, nft: 2, any: 2 });
    });

    it('none (and the default): only the kpng counter', async () => {
      expect(await counters(undefined, [true])).toEqual({ restore: undefined, partial: undefined, nft: undefined, any: 1 });
      expect(await counters('none', [true])).toEqual({ restore: undefined, partial: undefined, nft: undefined, any: 1 });
    });
  });

  it('a sync that left service ports out: the gauge says how many, a refused transaction counts as a failed restore, the sync itself did not fail', async () => {
    const m = new ProxyMetrics({ backend: 'iptables', failures: 'iptables-restore', families: ['IPv4'], processMetrics: false });
    const state = stateOf([]);
    const record = (stats: object) => ({ full: true, seconds: 0.1, at: Date.now(), stats: { full: true, ...stats }, state, programmingSeconds: [] });
    m.synced(record({ leftOut: ['ns/a:p', 'ns/b'], refusedTransactions: 1 }));
    let s = samples(await m.registry.metrics());
    expect(s.get('kpng_service_ports_left_out')).toBe(2);
    expect(s.get('kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv4"}')).toBe(1);
    expect(s.get('kpng_sync_failures_total')).toBe(0);
    m.synced(record({ leftOut: [] }));
    s = samples(await m.registry.metrics());
    expect(s.get('kpng_service_ports_left_out')).toBe(0);
    expect(s.get('kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv4"}')).toBe(1);
  });

  it('counts health answers by code', async () => {
    const m = new ProxyMetrics({ backend: 'iptables', failures: 'iptables-restore', families: ['IPv4'], processMetrics: false });
    m.healthAnswered('/healthz', 200);
    m.healthAnswered('/healthz', 503);
    m.healthAnswered('/livez', 200);
    const s = samples(await m.registry.metrics());
    expect(s.get('kubeproxy_proxy_healthz_total{code="503"}')).toBe(1);
    expect(s.get('kubeproxy_proxy_livez_total{code="200"}')).toBe(1);
  });
});

describe('noLocalEndpointCounts', () => {
  it('counts Local policies left without local endpoints (DROP), not Services without any endpoint (REJECT)', () => {
    const state = stateOf([
      { name: 'itp-remote', opts: { clusterIPs: ['10.96.0.1'], itp: 'Local' }, endpoints: [remoteOnly] },
      { name: 'itp-local', opts: { clusterIPs: ['10.96.0.2'], itp: 'Local' }, endpoints: [{ ip: '10.0.0.2', node: 'node-a' }] },
      { name: 'itp-none', opts: { clusterIPs: ['10.96.0.3'], itp: 'Local' }, endpoints: [] },
      { name: 'etp-remote', opts: { clusterIPs: ['10.96.0.4'], type: 'NodePort', ports: [{ port: 80, nodePort: 30004 }], etp: 'Local' }, endpoints: [remoteOnly] },
      { name: 'etp-dual', opts: { clusterIPs: ['10.96.0.5', 'fd00::5'], type: 'NodePort', ports: [{ port: 80, nodePort: 30005 }], etp: 'Local' }, endpoints: [remoteOnly] },
      { name: 'cluster', opts: { clusterIPs: ['10.96.0.6'] }, endpoints: [remoteOnly] },
    ]);
    expect(Object.fromEntries(noLocalEndpointCounts(state))).toEqual({ IPv4: { internal: 1, external: 2 }, IPv6: { internal: 0, external: 0 } });
  });
});
