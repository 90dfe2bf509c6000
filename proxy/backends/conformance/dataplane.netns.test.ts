// The dataplane conformance suite: for each backend in dataplanes.testkit.ts and each IP family,
// one netns topology (nodes a and b, two pods on each, two outside clients), the real
// proxy running as a process in each node's namespace and reading a snapshot file, and
// real TCP and UDP traffic through the rules it applied. The cluster (cluster.ts) holds
// one Service per behaviour; a test changes it by rewriting the snapshot, and waits for
// every proxy's /metrics to say the change is in effect.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EchoReply, type Family, type IpFamily, type Namespace, ProbeError, type UdpReply, needsNodeCgroups, parseEcho, urlFor } from '../../../harness/lab/netns/index.ts';
import { probeFailure as failure, useTopology } from '../../../harness/lab/netns/testing.ts';
import { SuiteCluster, clients, namespace, nodes, podPorts, pods, servicePorts, suiteServices, type PodName, type ServiceName } from './cluster.testkit.ts';
import { dataplanes, leftOutOfSuite } from './dataplanes.testkit.ts';
import { ProxyUnderTest, marksOf } from './proxy-under-test.testkit.ts';
import { SnapshotFile } from './snapshot.ts';
import { familyFromLower } from '../../model/index.ts';

/** Short, so that a flush is repaired and an unhealthy proxy shows within seconds. */
const syncPeriodMs = 1_000;
/** How long a probe waits before it counts as dropped (an answer takes a few ms). */
const dropTimeoutMs = 500;
/** One topology per IP family and backend. 'dual' passes too (each test then runs in both families), at about the cost of the two. */
const topologies: IpFamily[] = ['ipv4', 'ipv6'];

async function echo(from: Namespace, url: string): Promise<EchoReply> {
  const response = await from.httpGet(url);
  expect(response.status, url).toBe(200);
  return parseEcho(response.body);
}

/** The pods that answered `count` requests. */
async function answering(from: Namespace, url: string, count: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) seen.add((await echo(from, url)).pod);
  return seen;
}

/**
 * One UDP exchange, sent again (from the same source port, as a UDP client retransmits)
 * when nothing came back: a datagram or its ICMP error can be lost on a loaded machine,
 * and unlike TCP nothing resends it. A probe that keeps timing out stays a timeout.
 */
async function udp(from: Namespace, host: string, port: number, options: { sourcePort?: number } = {}): Promise<UdpReply> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await from.udpExchange(host, port, 'query', { timeoutMs: 1_000, ...options });
    } catch (error) {
      if (!(error instanceof ProbeError) || error.kind !== 'timeout' || attempt === 3) throw error;
    }
  }
}

/** Probes until `probe` succeeds; resolves with the time it took. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

// A subject the topology cannot keep to one node on this host (its backend's scope) is named, with why.
for (const [subject, why] of Object.entries(leftOutOfSuite)) console.log(`conformance: subject ${subject} is not in this suite: ${why}`);

describe.each(dataplanes)('the $title dataplane', (dataplane) => {
  describe.each<IpFamily>(topologies)('in an %s topology', (ipFamily) => {
    let suiteStart = 0;
    beforeAll(() => {
      suiteStart = Date.now();
    });
    const lab = useTopology(
      { family: ipFamily, nodes: [...nodes], pods: pods.map((p) => ({ ...p })), clients: [...clients], nodeCgroups: needsNodeCgroups(dataplane.scope) },
      { timeoutMs: 60_000 },
    );
    let cluster: SuiteCluster;
    let snapshot: SnapshotFile;
    const proxies = new Map<string, ProxyUnderTest>();
    const timings: string[] = [];

    const t = () => lab();
    const families = () => t().families;
    const proxy = (node: 'node-a' | 'node-b') => proxies.get(node)!;
    const url = (ip: string, port: number = servicePorts.http, path = '/') => urlFor(ip, port, path);
    const clusterURL = (service: ServiceName, f: Family) => url(cluster.clusterIP(service, f));
    const nodePortURL = (node: 'node-a' | 'node-b', service: ServiceName, f: Family) => url(t().node(node).ip(f), (suiteServices[service] as { nodePort: number }).nodePort);

    /** Writes the snapshot and waits until the proxies (default both) have it in effect. */
    async function publish(on: ProxyUnderTest[] = [...proxies.values()]): Promise<number> {
      const since = await snapshot.write(cluster.objects());
      await Promise.all(on.map((p) => p.waitForSync(since)));
      return since;
    }

    beforeAll(async () => {
      const topology = t();
      timings.push(`topology ${Date.now() - suiteStart} ms`);
      await Promise.all(topology.pods.map((pod) => pod.serve(podPorts)));
      // A default route, as real nodes have: traffic the rules leave alone (no endpoints,
      // a source outside the LoadBalancer ranges) is routed, and so meets the REJECT and
      // DROP rules of the filter table rather than a "no route" from the node.
      for (const node of topology.nodes) for (const f of topology.families) await node.exec('ip', [f === 'ipv6' ? '-6' : '-4', 'route', 'replace', 'default', 'dev', node.uplink]);
      // ExternalIPs and LoadBalancer IPs are announced by node a.
      for (const c of topology.clients) for (const f of topology.families) await c.routeVia(topology.plan.external[f], topology.node('node-a'));
      snapshot = await SnapshotFile.create();
      cluster = new SuiteCluster(topology);
      const started = Date.now();
      const since = await snapshot.write(cluster.objects());
      for (const node of topology.nodes) proxies.set(node.name, ProxyUnderTest.start({ topology, node, dataplane, input: snapshot.path, syncPeriod: `${syncPeriodMs}ms` }));
      await Promise.all([...proxies.values()].map((p) => p.waitForSync(since)));
      timings.push(`proxies started and synced ${Date.now() - started} ms`);
    }, 90_000);

    // A failed test shows what each proxy said and the rules it left.
    afterEach(async (context) => {
      if (context.task.result?.state !== 'fail') return;
      for (const p of proxies.values()) {
        const rules = await dataplane.dump(p.node, families()).catch((error: unknown) => String(error));
        console.log(`--- ${p.node.name}: proxy output\n${p.process.output}\n--- ${p.node.name}: rules\n${rules}`);
      }
    });

    afterAll(async () => {
      await Promise.all([...proxies.values()].map((p) => p.process.stop()));
      await snapshot?.remove();
      timings.push(`whole ${Date.now() - suiteStart} ms`);
      console.log(`conformance ${dataplane.title} ${ipFamily}: ${timings.join(', ')}`);
    });

    it('a client outside the cluster reaches a NodePort on node a served by a pod on node b, masqueraded to node a', async () => {
      for (const f of families()) {
        const reply = await echo(t().client('client-1'), nodePortURL('node-a', 'web', f));
        expect(['pod-b1', 'pod-b2']).toContain(reply.pod);
        expect(reply.client).toBe(t().node('node-a').ip(f));
      }
    });

    // Only where endpoints see the client's own address (not through a userspace proxy).
    if (dataplane.keepsClientAddress) {
      it('a pod reaches a ClusterIP, spread over every endpoint, with its own address preserved', async () => {
        for (const f of families()) {
          const from = t().pod('pod-a1');
          expect(await answering(from, clusterURL('web', f), 30)).toEqual(new Set(['pod-b1', 'pod-b2']));
          expect((await echo(from, clusterURL('web', f))).client).toBe(from.ip(f));
        }
      });

      it('externalTrafficPolicy=Local: the pod sees the real client address; a node without a local endpoint drops (no answer, not refused)', async () => {
        const client = t().client('client-1');
        for (const f of families()) {
          expect(await echo(client, nodePortURL('node-b', 'local', f))).toMatchObject({ pod: 'pod-b1', client: client.ip(f) });
          const dropped = await failure(client.httpGet(nodePortURL('node-a', 'local', f), { timeoutMs: dropTimeoutMs }));
          expect(dropped.kind).toBe('timeout');
        }
      });
    }

    it('the healthCheckNodePort answers as kube-proxy’s: 200 and the endpoint count where there is a local endpoint, 503 where there is none', async () => {
      const port = suiteServices.local.healthCheckNodePort;
      for (const f of families()) {
        for (const [node, code, count] of [['node-b', 200, 1], ['node-a', 503, 0]] as const) {
          const response = await t().client('client-1').httpGet(url(t().node(node).ip(f), port, '/any/path'));
          expect(response.status, node).toBe(code);
          expect(response.headers['content-type']).toBe('application/json');
          expect(response.headers['x-load-balancing-endpoint-weight']).toBe(String(count));
          expect(JSON.parse(response.body)).toEqual({ service: { namespace, name: 'local' }, localEndpoints: count, serviceProxyHealthy: true });
        }
      }
    });

    it('ClientIP affinity keeps one client on one pod, and lets go after timeoutSeconds', async () => {
      const from = t().pod('pod-a1');
      for (const f of families()) {
        const target = clusterURL('sticky', f);
        const first = await answering(from, target, 10);
        expect(first.size).toBe(1);
        // Once the timeout has passed with no new connection, the next one is balanced
        // afresh: among three endpoints, another pod answers within a few rounds.
        const wait = suiteServices.sticky.affinity * 1000 + 300;
        let moved = false;
        for (let round = 0; round < 15 && !moved; round++) {
          await sleep(wait);
          moved = !first.has((await echo(from, target)).pod);
        }
        expect(moved).toBe(true);
      }
    });

    it('a Service without endpoints refuses at once (TCP and UDP, ClusterIP and NodePort), it does not time out', async () => {
      const [pod, client] = [t().pod('pod-a1'), t().client('client-1')];
      const nodePorts = suiteServices.empty;
      for (const f of families()) {
        const refusals = [
          await failure(pod.httpGet(clusterURL('empty', f))),
          await failure(udp(pod, cluster.clusterIP('empty', f), servicePorts.udp)),
          await failure(client.httpGet(nodePortURL('node-a', 'empty', f))),
          await failure(udp(client, t().node('node-a').ip(f), nodePorts.udp.nodePort)),
        ];
        expect(refusals.map((e) => e.kind)).toEqual(['refused', 'refused', 'refused', 'refused']);
      }
    });

    // Translated per packet, the pod's connection to itself must be masqueraded; balanced at
    // the socket, it is a connection to itself from the start.
    if (!dataplane.balancesSockets) {
      it('hairpin: a pod reaches itself through its own Service', async () => {
        for (const f of families()) {
          // Masqueraded to its node's pod-bridge address, so that the answer comes back through the node.
          expect(await echo(t().pod('pod-a1'), clusterURL('hairpin', f))).toEqual(expect.objectContaining({ pod: 'pod-a1', client: t().node('node-a').gateway(f) }));
        }
      });
    } else {
      it('hairpin: a pod reaches itself through its own Service, its socket connected to its own address (nothing to masquerade)', async () => {
        for (const f of families()) expect(await echo(t().pod('pod-a1'), clusterURL('hairpin', f))).toEqual(expect.objectContaining({ pod: 'pod-a1', client: t().pod('pod-a1').ip(f) }));
      });
    }

    it('LoadBalancer source ranges admit the client inside them and drop the one outside; the NodePort is not filtered', async () => {
      for (const f of families()) {
        const lb = url(cluster.externalIP('lb', f));
        expect((await echo(t().client('client-1'), lb)).pod).toBe('pod-b1');
        expect((await failure(t().client('client-2').httpGet(lb, { timeoutMs: dropTimeoutMs }))).kind).toBe('timeout');
        expect((await echo(t().client('client-2'), nodePortURL('node-a', 'lb', f))).pod).toBe('pod-b1');
      }
    });

    it('internalTrafficPolicy=Local: pods reach only their own node’s endpoint, and nothing where their node has none', async () => {
      // Dropped per packet (as kube-proxy); a socket hook cannot drop, it refuses the connect.
      const nothing = dataplane.balancesSockets ? 'refused' : 'timeout';
      for (const f of families()) {
        expect(await answering(t().pod('pod-a2'), clusterURL('itp', f), 8)).toEqual(new Set(['pod-a1']));
        expect(await answering(t().pod('pod-b2'), clusterURL('itp', f), 8)).toEqual(new Set(['pod-b1']));
        expect((await failure(t().pod('pod-a2').httpGet(clusterURL('itp-remote', f), { timeoutMs: dropTimeoutMs }))).kind).toBe(nothing);
      }
    });

    it('an ExternalIP routed to node a reaches the Service from outside', async () => {
      for (const f of families()) {
        for (const c of clients) expect(await echo(t().client(c), url(cluster.externalIP('ext', f)))).toMatchObject({ pod: 'pod-b2', client: t().node('node-a').ip(f) });
      }
    });

    it('/healthz and /livez answer as kube-proxy’s (JSON, status per family, headers); /proxyMode names the backend', async () => {
      const client = t().client('client-1');
      const statusFamilies = families().map(familyFromLower);
      const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
      for (const f of families()) {
        for (const path of ['/healthz', '/livez']) {
          const response = await client.httpGet(url(t().node('node-a').ip(f), 10256, path));
          expect(response.status, path).toBe(200);
          expect(response.headers['content-type']).toBe('application/json');
          expect(response.headers['x-content-type-options']).toBe('nosniff');
          const body = JSON.parse(response.body) as Record<string, unknown> & { status: Record<string, { lastUpdated: string; healthy: boolean }> };
          expect(Object.keys(body).sort()).toEqual(path === '/healthz' ? ['currentTime', 'healthy', 'lastUpdated', 'nodeEligible', 'status'] : ['currentTime', 'healthy', 'lastUpdated', 'status']);
          expect(body).toMatchObject({ healthy: true, lastUpdated: expect.stringMatching(rfc3339), currentTime: expect.stringMatching(rfc3339) });
          if (path === '/healthz') expect(body.nodeEligible).toBe(true);
          expect(Object.keys(body.status).sort()).toEqual(statusFamilies.sort());
          for (const s of Object.values(body.status)) expect(s).toEqual({ lastUpdated: expect.stringMatching(rfc3339), healthy: true });
        }
      }
      const mode = await t().node('node-a').httpGet('http://127.0.0.1:10249/proxyMode');
      expect(mode.body).toBe(dataplane.proxyMode);
    });

    it('a UDP flow moves to the new endpoint once the old one is removed (the proxy deletes the stale conntrack entry)', async () => {
      const pod = t().pod('pod-a1');
      const exchange = (f: Family, sourcePort: number) => udp(pod, cluster.clusterIP('dns', f), servicePorts.udp, { sourcePort });
      const sourcePort = (f: Family) => (f === 'ipv4' ? 40_053 : 40_063);
      for (const f of families()) for (let i = 0; i < 2; i++) expect(parseEcho((await exchange(f, sourcePort(f))).payload).pod).toBe('pod-b1');
      // pod-b1 keeps answering on its own address: only the flow's conntrack entry could still send the client there.
      cluster.setEndpoints('dns', ['pod-b2']);
      await publish();
      for (const f of families()) {
        const reply = await exchange(f, sourcePort(f));
        expect(parseEcho(reply.payload).pod).toBe('pod-b2');
        expect(reply.from).toEqual({ address: cluster.clusterIP('dns', f), port: servicePorts.udp });
      }
    });

    it('one endpoint change is programmed by a partial sync on every node, and traffic reaches the new endpoint', async () => {
      const before = await Promise.all(nodes.map((n) => proxy(n).marks()));
      cluster.setEndpoints('growing', ['pod-b1', 'pod-a2']);
      await publish();
      const after = await Promise.all(nodes.map((n) => proxy(n).marks()));
      for (const [i, n] of nodes.entries()) {
        expect({ node: n, partial: after[i]!.partial - before[i]!.partial, full: after[i]!.full - before[i]!.full }).toEqual({ node: n, partial: 1, full: 0 });
      }
      for (const f of families()) expect(await answering(t().pod('pod-b2'), clusterURL('growing', f), 30)).toEqual(new Set<PodName>(['pod-b1', 'pod-a2']));
    });

    it('fault: someone wipes the rules on node a; the proxy notices at its next periodic check and puts them back with a full sync', async () => {
      const a = proxy('node-a');
      const before = await a.marks();
      const from = a.process.output.length;
      const client = t().client('client-1');
      await dataplane.flush(t().node('node-a'), families());
      const flowsAgain = () =>
        Promise.all(families().map(async (f) => (await echo(client, nodePortURL('node-a', 'web', f))).pod.startsWith('pod-b'))).then((ok) => ok.every(Boolean));
      const repairedMs = await until('traffic through node a after the flush', flowsAgain, 15 * syncPeriodMs);
      timings.push(`flush repaired after ${repairedMs} ms (sync period ${syncPeriodMs} ms)`);
      // The repairing sync shows in the metrics once its after-sync steps are done, a moment after the rules are in.
      await a.waitFor('a full sync after the flush', (page) => marksOf(page, dataplane).full > before.full);
      await a.waitForOutputSince(from, /(rules were changed by someone else|cannot tell whether the rules were tampered with); resyncing in full/);
    });

    // Only where the backend's entry names a real way to make its kernel tool reject the input.
    if (dataplane.rejection) {
      it(
        'fault: the kernel tool rejects the input; the error names the line, the failure counter rises, the next sync is full; a rejection that persists leaves the previous rules and turns /healthz 503',
        async () => {
          const rejection = dataplane.rejection!;
          const [a, b] = [proxy('node-a'), proxy('node-b')];
          const node = t().node('node-a');
          const healthz = (path = '/healthz') => t().client('client-1').httpGet(url(node.ip(families()[0]!), 10256, path));
          const release = await rejection.hold(node, families(), { namespace, name: 'victim', port: 'http' });
          const before = await a.marks();
          const from = a.process.output.length;
          const written = Date.now();
          cluster.remove('victim');
          const since = await snapshot.write(cluster.objects());
          // Node b has nothing holding its rules: it syncs the removal.
          await b.waitForSync(since);
          await a.waitFor('a failed sync', (page) => (page.max(dataplane.failureCounter) ?? 0) > before.failures);
          await a.waitForOutputSince(from, rejection.log);
          if (rejection.persistent) {
            // Nothing of the rejected input was applied: every Service still works, the removed one too.
            for (const f of families()) {
              expect((await echo(t().pod('pod-a1'), clusterURL('victim', f))).pod).toBe('pod-b2');
              expect((await echo(t().client('client-1'), nodePortURL('node-a', 'web', f))).pod).toMatch(/^pod-b/);
            }
            // The removal has waited 2 × --sync-period: unhealthy, on /healthz and /livez.
            await until('/healthz 503 on node a', async () => (await healthz()).status === 503, 20 * syncPeriodMs);
            const unhealthyAfter = Date.now() - written;
            timings.push(`/healthz 503 after ${unhealthyAfter} ms without a successful sync`);
            // Not before: the change was queued after it was written.
            expect(unhealthyAfter).toBeGreaterThanOrEqual(2 * syncPeriodMs);
            const unhealthy = await healthz();
            expect(JSON.parse(unhealthy.body)).toMatchObject({ healthy: false, nodeEligible: true });
            expect((await healthz('/livez')).status).toBe(503);
          }
          // The cause goes away (or, not persisting, never mattered to a full sync): the next attempt is a full sync, and it succeeds.
          const failing = rejection.persistent ? await a.marks() : before;
          await release();
          await a.waitForSync(since);
          const after = await a.marks();
          expect(after.full).toBeGreaterThan(failing.full);
          expect(after.partial).toBe(before.partial);
          expect((await healthz()).status).toBe(200);
          for (const f of families()) await failure(t().pod('pod-a1').httpGet(clusterURL('victim', f), { timeoutMs: dropTimeoutMs }));
        },
      );
    }
  });
});
