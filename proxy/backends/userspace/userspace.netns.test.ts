// What the conformance suite leaves to this backend (its specs on the client's own address
// do not hold for a proxy whose connections come from the node), and what only it has:
// a dual-stack topology, `kpng file ... to-userspace` on node a, real TCP through it.
// ClusterIP traffic spreads and reaches endpoints from node a; externalTrafficPolicy=Local
// without a local endpoint drops; the node's own traffic to a cluster IP and a NodePort is
// redirected too (OUTPUT); an established connection to an endpoint that leaves is closed;
// on SIGTERM established connections finish while new ones are refused.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Family, parseEcho, planAddress, programEnv, projectNode, urlFor } from '../../../harness/lab/netns/index.ts';
import { probeFailure, useTopology } from '../../../harness/lab/netns/testing.ts';
import { dataplaneFor } from '../conformance/dataplanes.testkit.ts';
import { ProxyUnderTest } from '../conformance/proxy-under-test.testkit.ts';
import { SnapshotFile } from '../conformance/snapshot.ts';
import { node, service, slice } from '../../model/testing.ts';

const namespace = 'userspace';
const podPort = 8080;

describe('to-userspace on a dual-stack node', () => {
  const lab = useTopology(
    {
      family: 'dual',
      nodes: ['node-a', 'node-b'],
      pods: [
        { name: 'pod-a1', node: 'node-a' },
        { name: 'pod-b1', node: 'node-b' },
        { name: 'pod-b2', node: 'node-b' },
      ],
      clients: ['client-1'],
    },
    { timeoutMs: 60_000 },
  );
  let snapshot: SnapshotFile;
  let proxy: ProxyUnderTest;
  const endpoints: Record<string, string[]> = { web: ['pod-b1', 'pod-b2'], local: ['pod-b1'], single: ['pod-b1'], dns: ['pod-b1', 'pod-b2'] };
  const hosts: Record<string, number> = { web: 10, local: 11, single: 12, dns: 13 };
  const t = () => lab();
  const clusterIP = (svc: string, f: Family) => planAddress(t().plan.service[f], hosts[svc]!);

  function objects(): unknown[] {
    const topo = t();
    const out: unknown[] = topo.nodes.map((n) => node(n.name, { addresses: n.ips }));
    const specs: Record<string, object> = { web: { type: 'NodePort', nodePort: 30080 }, local: { type: 'NodePort', nodePort: 30081, etp: 'Local' }, single: {}, dns: { type: 'NodePort', nodePort: 30053, udp: true } };
    for (const [name, extra] of Object.entries(specs)) {
      const { nodePort, udp, ...rest } = extra as { nodePort?: number; udp?: boolean };
      const port = udp ? { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' } : { name: 'http', port: 80, targetPort: podPort };
      out.push(
        service(name, {
          namespace,
          clusterIPs: topo.families.map((f) => clusterIP(name, f)),
          ports: [{ ...port, ...(nodePort !== undefined && { nodePort }) }],
          ...rest,
        }),
      );
      for (const f of topo.families) {
        const eps = endpoints[name]!.map((p) => ({ ip: topo.pod(p).ip(f), node: topo.pod(p).node.name, pod: p }));
        out.push(slice(`${name}-${f}`, name, eps, { namespace, addressType: f === 'ipv4' ? 'IPv4' : 'IPv6', ports: [{ name: port.name, port: port.targetPort, protocol: port.protocol ?? 'TCP' }] }));
      }
    }
    return out;
  }

  async function publish(): Promise<void> {
    await proxy.waitForSync(await snapshot.write(objects()));
  }

  beforeAll(async () => {
    const topo = t();
    await Promise.all(topo.pods.map((p) => p.serve({ http: podPort, udp: 5353 })));
    for (const n of topo.nodes) for (const f of topo.families) await n.exec('ip', [f === 'ipv6' ? '-6' : '-4', 'route', 'replace', 'default', 'dev', n.uplink]);
    snapshot = await SnapshotFile.create();
    const since = await snapshot.write(objects());
    proxy = ProxyUnderTest.start({ topology: topo, node: topo.node('node-a'), dataplane: dataplaneFor('userspace-nft'), input: snapshot.path, syncPeriod: '1s' });
    await proxy.waitForSync(since);
  }, 90_000);

  afterAll(async () => {
    await proxy?.process.stop();
    await snapshot?.remove();
  });

  it('spreads ClusterIP connections over every endpoint; the endpoints see node a', async () => {
    for (const f of t().families) {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const reply = parseEcho((await t().pod('pod-a1').httpGet(urlFor(clusterIP('web', f), 80))).body);
        seen.add(reply.pod);
        expect(reply.client).toBe(t().node('node-a').ip(f));
      }
      expect(seen).toEqual(new Set(['pod-b1', 'pod-b2']));
    }
  });

  it('externalTrafficPolicy=Local: node a has no local endpoint, so its NodePort drops (no answer, not refused)', async () => {
    for (const f of t().families) {
      const dropped = await probeFailure(t().client('client-1').httpGet(urlFor(t().node('node-a').ip(f), 30081), { timeoutMs: 500 }));
      expect(dropped.kind).toBe('timeout');
    }
  });

  it("the node's own connections to a cluster IP and to its NodePort are redirected too", async () => {
    const a = t().node('node-a');
    for (const f of t().families) {
      expect(['pod-b1', 'pod-b2']).toContain(parseEcho((await a.httpGet(urlFor(clusterIP('web', f), 80))).body).pod);
      expect(['pod-b1', 'pod-b2']).toContain(parseEcho((await a.httpGet(urlFor(a.ip(f), 30080))).body).pod);
    }
  });

  it("answers the node's own UDP to a cluster IP and to its NodePort from the address and port it was sent to (what a connected socket, nc -u or a resolver, accepts)", async () => {
    const a = t().node('node-a');
    for (const f of t().families) {
      for (const [host, port] of [[clusterIP('dns', f), 53], [a.ip(f), 30053]] as const) {
        const reply = await a.udpExchange(host, port, 'hello', { timeoutMs: 2_000 });
        expect({ from: reply.from, pod: ['pod-b1', 'pod-b2'].some((p) => reply.payload.includes(p)) }).toEqual({ from: { address: host, port }, pod: true });
      }
    }
  });

  /** A process in pod a1 holding one TCP connection to `host`:80 open; it prints "connected", then "closed" when the other side ends it. */
  function holdConnection(host: string) {
    const script = `const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: 80 }, () => console.log('connected')); s.on('close', () => { console.log('closed'); process.exit(0); }); s.on('error', () => {}); s.resume();`;
    return t().pod('pod-a1').spawn(projectNode(), ['-e', script], { env: programEnv() });
  }

  it('closes an established connection once its endpoint leaves; new connections go to the new set at once', async () => {
    for (const f of t().families) {
      // The Service's one endpoint moves from pod-b1 to pod-b2 (and back, for the second family).
      const next = endpoints.single![0] === 'pod-b1' ? 'pod-b2' : 'pod-b1';
      const held = holdConnection(clusterIP('single', f));
      await held.waitForOutput('connected');
      await sleep(100);
      expect(held.output).not.toContain('closed');
      endpoints.single = [next];
      await publish();
      await held.waitForOutput('closed', 5_000);
      expect(parseEcho((await t().pod('pod-a1').httpGet(urlFor(clusterIP('single', f), 80))).body).pod).toBe(next);
    }
  });

  it('on SIGTERM it stops accepting at once and lets an established connection finish before it exits', async () => {
    const f = t().families[0]!;
    // The client's handshake ends in the kernel's accept queue; the proxy holds the connection
    // once it has accepted it and reached an endpoint: count those legs (node a → a web pod).
    // An earlier spec's leg to the same pods may still be open, so wait for none first.
    const peers = endpoints.web!.map((p) => t().pod(p).ip(f)).map((ip) => (ip.includes(':') ? `[${ip}]:` : `${ip}:`));
    const legs = async () => {
      const established = await t().node('node-a').exec('ss', ['-Htn', 'state', 'established']);
      return established.split('\n').filter((line) => peers.some((peer) => line.includes(peer))).length;
    };
    for (let i = 0; i < 100 && (await legs()) > 0; i++) await sleep(50);
    expect(await legs()).toBe(0);
    const held = holdConnection(clusterIP('web', f));
    await held.waitForOutput('connected');
    for (let i = 0; i < 100 && (await legs()) === 0; i++) await sleep(50);
    expect(await legs()).toBe(1);
    proxy.process.kill('SIGTERM');
    await proxy.process.waitForOutput(/draining established connections/);
    // The listeners are closed; the redirect rules stay and now lead to a closed port: refused.
    expect((await probeFailure(t().pod('pod-a1').httpGet(urlFor(clusterIP('web', f), 80), { timeoutMs: 2_000 }))).kind).toBe('refused');
    expect(proxy.process.running).toBe(true);
    expect(held.output).not.toContain('closed');
    await held.stop();
    for (let i = 0; i < 100 && proxy.process.running; i++) await sleep(50);
    expect(proxy.process.running).toBe(false);
  });
});
