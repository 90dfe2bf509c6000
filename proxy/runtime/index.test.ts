import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { memoryLogger, startRuntime, type Runner } from './index.ts';
import { deferred, fakeBackend, freePort, get, handOff, stateOf } from './testing.ts';

/**
 * Two syncs: a LoadBalancer Service with externalTrafficPolicy=Local (its healthCheckNodePort
 * on hcPort) and a UDP Service that first has no endpoint, then gets its first one.
 */
function webAndDns(hcPort: number) {
  const web = {
    name: 'web',
    opts: { clusterIPs: ['10.96.0.80'], type: 'LoadBalancer' as const, etp: 'Local' as const, healthCheckNodePort: hcPort, ports: [{ port: 80, nodePort: 30080 }], lbIngress: [{ ip: '192.0.2.80' }] },
    endpoints: [{ ip: '10.0.0.5', node: 'node-a' }],
  };
  const dns = { name: 'dns', opts: { clusterIPs: ['10.96.0.10'], ports: [{ port: 53, protocol: 'UDP' as const }] }, slicePorts: [{ port: 53, protocol: 'UDP' as const }] };
  return handOff([stateOf([{ ...dns, endpoints: [] }, web]), stateOf([{ ...dns, endpoints: ['10.0.0.2'] }, web])]);
}

/** A conntrack runner that records its command lines. */
function recordingConntrack(): { calls: string[]; run: Runner } {
  const calls: string[] = [];
  const run: Runner = async (file, args) => {
    calls.push([file, ...args].join(' '));
    return { exitCode: 1, stdout: '', stderr: '0 flow entries have been deleted.' };
  };
  return { calls, run };
}

/** The runtime on loopback (every server on a free port) with a fake backend and a recording conntrack. */
async function startOnLoopback(extra: { dryRun?: boolean }) {
  const backend = fakeBackend('iptables');
  const { calls: conntrackCalls, run: conntrack } = recordingConntrack();
  const hcPort = await freePort();
  const rt = await startRuntime({
    backend,
    logger: memoryLogger(),
    flags: { 'healthz-bind-address': '127.0.0.1:0', 'metrics-bind-address': '127.0.0.1:0', 'nodeport-addresses': ['127.0.0.0/8'] },
    conntrack,
    hostAddresses: () => ['127.0.0.1'],
    processMetrics: false,
    ...extra,
  });
  return { backend, conntrackCalls, hcPort, rt };
}

describe('startRuntime', () => {
  it('wires the runner, /healthz, /metrics, health check ports and conntrack cleanup from the flags', async () => {
    const { backend, conntrackCalls, hcPort, rt } = await startOnLoopback({});
    expect(rt.healthzAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(rt.metricsAddress).toMatch(/^127\.0\.0\.1:\d+$/);

    const [s1, s2] = webAndDns(hcPort);
    await rt.sink.start();
    rt.sink.onLocal(s1!.state, s1!.changes);
    await rt.sink.drain();
    expect(conntrackCalls).toEqual([]); // the first sync after a start leaves live flows alone
    rt.sink.onLocal(s2!.state, s2!.changes);
    await rt.sink.drain();

    expect(backend.calls).toHaveLength(2);
    expect(conntrackCalls).toEqual(['conntrack -D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53']);
    const hz = await get(`http://${rt.healthzAddress}/healthz`);
    expect(hz.status).toBe(200);
    expect(JSON.parse(hz.body)).toMatchObject({ healthy: true, nodeEligible: true, status: { IPv4: { healthy: true } } });
    const metrics = await get(`http://${rt.metricsAddress}/metrics`);
    expect(metrics.body).toContain('kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family="IPv4"} 1');
    expect(metrics.body).toContain('kubeproxy_sync_partial_proxy_rules_duration_seconds_count{ip_family="IPv4"} 1');
    expect(metrics.body).toContain('kubeproxy_proxy_healthz_total{code="200"} 1');
    expect((await get(`http://${rt.metricsAddress}/proxyMode`)).body).toBe('iptables');
    const hc = await get(`http://127.0.0.1:${hcPort}/`);
    expect([hc.status, hc.headers['x-load-balancing-endpoint-weight']]).toEqual([200, '1']);

    await rt.sink.stop();
    for (const url of [`http://${rt.healthzAddress}/healthz`, `http://${rt.metricsAddress}/metrics`, `http://127.0.0.1:${hcPort}/`]) {
      await expect(get(url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    }
    expect(backend.cleanupCalls).toBe(0);
    await rt.stop(); // idempotent
  });

  it('in a dry run syncs the backend but binds no port and deletes no conntrack flow, whatever the flags say', async () => {
    const { backend, conntrackCalls, hcPort, rt } = await startOnLoopback({ dryRun: true });
    expect([rt.healthzAddress, rt.metricsAddress]).toEqual([undefined, undefined]);
    const [s1, s2] = webAndDns(hcPort);
    await rt.sink.start();
    for (const s of [s1!, s2!]) {
      rt.sink.onLocal(s.state, s.changes);
      await rt.sink.drain();
    }
    expect(backend.calls).toHaveLength(2);
    expect(conntrackCalls).toEqual([]);
    await expect(get(`http://127.0.0.1:${hcPort}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await rt.stop();
  });

  it("on stop, calls the backend's stop hook once: after the sync under way finished and the servers closed", async () => {
    const { backend, hcPort, rt } = await startOnLoopback({});
    const events: string[] = [];
    backend.stop = async () => {
      const healthz = await get(`http://${rt.healthzAddress}/healthz`).then(
        () => 'answering',
        () => 'closed',
      );
      events.push(`backend stop (/healthz ${healthz})`);
    };
    const slow = deferred<{ full: boolean }>();
    backend.outcomes.push(() => slow.promise);
    const [s1] = webAndDns(hcPort);
    await rt.sink.start();
    rt.sink.onLocal(s1!.state, s1!.changes);
    while (backend.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    const stopped = rt.stop();
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual([]);
    events.push('sync done');
    slow.resolve({ full: true });
    await stopped;
    await rt.stop();
    expect(events).toEqual(['sync done', 'backend stop (/healthz closed)']);
    expect(backend.calls).toHaveLength(1);
  });

  it('disables a server whose bind address is ""', async () => {
    const rt = await startRuntime({ backend: fakeBackend(), logger: memoryLogger(), flags: { 'healthz-bind-address': '', 'metrics-bind-address': '' }, conntrack: false });
    expect([rt.healthzAddress, rt.metricsAddress]).toEqual([undefined, undefined]);
    await rt.stop();
  });

  it('fails with KPNG_ERR_LISTEN when a port is taken, leaving nothing listening', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const healthzPort = await freePort();
    try {
      await expect(
        startRuntime({
          backend: fakeBackend(),
          logger: memoryLogger(),
          flags: { 'healthz-bind-address': `127.0.0.1:${healthzPort}`, 'metrics-bind-address': `127.0.0.1:${port}` },
          processMetrics: false,
        }),
      ).rejects.toMatchObject({ code: 'KPNG_ERR_LISTEN', message: expect.stringContaining(`127.0.0.1:${port}`) });
      await expect(get(`http://127.0.0.1:${healthzPort}/healthz`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      taken.close();
    }
  });
});
