// Real namespaces, real packets: each IP family's topology carries pod-to-pod, client-to-
// node, pod-to-node and hairpin traffic, and failures read as refused or timeout.

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { execIn } from './exec.ts';
import { type Family, type IpFamily, familiesOf, parseEcho, planAddress, urlFor } from './index.ts';
import { probeFailure as failure, useTopology } from './testing.ts';

const HTTP = 8080;
const UDP = 5353;


describe.each<IpFamily>(['ipv4', 'ipv6', 'dual'])('a %s topology of 2 nodes, 3 pods and a client', (ipFamily) => {
  const families: Family[] = familiesOf(ipFamily);
  const lab = useTopology({
    family: ipFamily,
    nodes: ['node-1', 'node-2'],
    pods: [
      { name: 'pod-a', node: 'node-1' },
      { name: 'pod-b', node: 'node-2' },
      { name: 'pod-c', node: 'node-1' },
    ],
    clients: ['client'],
  });

  beforeAll(async () => {
    const t = lab();
    await Promise.all([
      ...t.pods.map((pod) => pod.serve({ http: HTTP, udp: UDP })),
      t.node('node-1').serve({ http: HTTP }),
      t.node('node-2').serve({ http: HTTP }),
    ]);
  });

  it('gives every namespace its addresses from the plan, and nodes forwarding', async () => {
    const t = lab();
    expect(t.node('node-2').ips).toEqual(families.map((f) => (f === 'ipv4' ? '10.99.0.12' : 'fd00:99::12')));
    expect(t.pod('pod-c').ips).toEqual(families.map((f) => (f === 'ipv4' ? '10.244.1.3' : 'fd00:244:0:1::3')));
    expect(t.client('client').ip()).toBe(families[0] === 'ipv4' ? '10.99.0.101' : 'fd00:99::101');
    const live = await t.pod('pod-b').listAddresses();
    expect(live.map((a) => `${a.ifname} ${a.address}/${a.prefix}`)).toEqual(t.pod('pod-b').ips.map((ip) => `eth0 ${ip}/${ip.includes(':') ? 64 : 24}`));
    expect(await t.node('node-1').sysctl('net.ipv4.ip_forward')).toBe('1');
    expect(await t.node('node-1').sysctl('net.ipv6.conf.all.forwarding')).toBe('1');
  });

  it('carries pod-to-pod traffic across nodes over HTTP and UDP, and the server sees the real pod address', async () => {
    const t = lab();
    const [a, b] = [t.pod('pod-a'), t.pod('pod-b')];
    for (const f of families) {
      const response = await a.httpGet(urlFor(b.ip(f), HTTP, '/anything'));
      expect(response.status).toBe(200);
      expect(parseEcho(response.body)).toMatchObject({ pod: 'pod-b', client: a.ip(f) });
      const reply = await b.udpExchange(a.ip(f), UDP, 'hello', { sourcePort: 40_053 });
      expect(parseEcho(reply.payload)).toEqual({ pod: 'pod-a', client: b.ip(f), clientPort: 40_053 });
      expect(reply.from).toEqual({ address: a.ip(f), port: UDP });
      expect((await b.httpGet(urlFor(a.ip(f), HTTP, '/healthz'))).body).toBe('ok');
    }
  });

  it('answers many concurrent probes, each on a connection of its own, and survives the loss of its probe process', async () => {
    const t = lab();
    const [a, b] = [t.pod('pod-a'), t.pod('pod-b')];
    const f = families[families.length - 1] as Family;
    const replies = await Promise.all(Array.from({ length: 50 }, () => a.httpGet(urlFor(b.ip(f), HTTP))));
    const ports = new Set(replies.map((reply) => parseEcho(reply.body).clientPort));
    expect(ports.size).toBe(50);
    // Kill the namespace's probe process: the next probe starts another.
    const pids = (await execIn(undefined, 'ip', ['netns', 'pids', a.netns])).split(/\s+/).filter(Boolean).map(Number);
    const agents = pids.filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--agent'));
    expect(agents).toHaveLength(1);
    process.kill(agents[0] as number, 'SIGKILL');
    expect(parseEcho((await a.httpGet(urlFor(b.ip(f), HTTP))).body).pod).toBe('pod-b');
  });

  it('lets a client reach node addresses, and nothing beyond the shared network', async () => {
    const t = lab();
    const client = t.client('client');
    for (const f of families) {
      const response = await client.httpGet(urlFor(t.node('node-2').ip(f), HTTP));
      expect(parseEcho(response.body)).toMatchObject({ pod: 'node-2', client: client.ip(f) });
      const noRoute = await failure(client.httpGet(urlFor(t.pod('pod-a').ip(f), HTTP)));
      expect(noRoute.kind).toBe('unreachable');
    }
  });

  it('lets a pod reach its own node, on the pod bridge and on the shared network', async () => {
    const t = lab();
    const [pod, node] = [t.pod('pod-a'), t.node('node-1')];
    for (const f of families) {
      for (const address of [node.gateway(f), node.ip(f)]) {
        const response = await pod.httpGet(urlFor(address, HTTP));
        expect(parseEcho(response.body)).toMatchObject({ pod: 'node-1', client: pod.ip(f) });
      }
    }
  });

  it('sends a pod back to itself through a DNAT rule on its node (hairpin), and to a pod on the same node', async () => {
    const t = lab();
    const [a, c, node] = [t.pod('pod-a'), t.pod('pod-c'), t.node('node-1')];
    expect(t.bridgeNetfilter, 'the kernel lacks br_netfilter, which these paths need').toBe(true);
    for (const f of families) {
      const tool = f === 'ipv4' ? 'iptables' : 'ip6tables';
      const hairpinVip = planAddress(t.plan.service[f], 10);
      const sameNodeVip = planAddress(t.plan.service[f], 11);
      const target = (ip: string) => (f === 'ipv4' ? `${ip}:${HTTP}` : `[${ip}]:${HTTP}`);
      await node.exec(tool, ['-t', 'nat', '-A', 'PREROUTING', '-d', hairpinVip, '-p', 'tcp', '--dport', '80', '-j', 'DNAT', '--to-destination', target(a.ip(f))]);
      await node.exec(tool, ['-t', 'nat', '-A', 'PREROUTING', '-d', sameNodeVip, '-p', 'tcp', '--dport', '80', '-j', 'DNAT', '--to-destination', target(a.ip(f))]);
      // Like kube-proxy, masquerade hairpin traffic, or the reply would never leave the pod.
      await node.exec(tool, ['-t', 'nat', '-A', 'POSTROUTING', '-s', a.ip(f), '-d', a.ip(f), '-j', 'MASQUERADE']);

      const hairpin = parseEcho((await a.httpGet(urlFor(hairpinVip, 80))).body);
      expect(hairpin).toMatchObject({ pod: 'pod-a', client: node.gateway(f) });
      // The reply from pod-a to pod-c is bridged on cbr0; the node's conntrack still un-DNATs it.
      const sameNode = parseEcho((await c.httpGet(urlFor(sameNodeVip, 80))).body);
      expect(sameNode).toMatchObject({ pod: 'pod-a', client: c.ip(f) });

      expect(await node.iptablesSave({ family: f, table: 'nat' })).toContain(`-d ${hairpinVip}/${f === 'ipv4' ? 32 : 128}`);
      expect(await node.conntrackList({ family: f, args: ['-d', hairpinVip] })).toContain(`dst=${hairpinVip}`);
    }
  });

  it('tells refused (no listener: fast) from timeout (a DROP rule)', async () => {
    const t = lab();
    const [a, b] = [t.pod('pod-a'), t.pod('pod-b')];
    for (const f of families) {
      const tool = f === 'ipv4' ? 'iptables' : 'ip6tables';
      const refused = await failure(a.httpGet(urlFor(b.ip(f), 9999), { timeoutMs: 3_000 }));
      expect(refused).toMatchObject({ kind: 'refused', code: 'KPNG_ERR_PROBE_REFUSED', errno: 'ECONNREFUSED' });
      expect(refused.elapsedMs).toBeLessThan(1_000);
      const udpRefused = await failure(a.udpExchange(b.ip(f), 9999, 'x', { timeoutMs: 3_000 }));
      expect(udpRefused.kind).toBe('refused');
      expect(udpRefused.elapsedMs).toBeLessThan(1_000);

      await b.exec(tool, ['-A', 'INPUT', '-p', 'tcp', '--dport', '9998', '-j', 'DROP']);
      await b.exec(tool, ['-A', 'INPUT', '-p', 'udp', '--dport', '9998', '-j', 'DROP']);
      const [tcpTimeout, udpTimeout] = await Promise.all([
        failure(a.httpGet(urlFor(b.ip(f), 9998), { timeoutMs: 400 })),
        failure(a.udpExchange(b.ip(f), 9998, 'x', { timeoutMs: 400 })),
      ]);
      for (const timeout of [tcpTimeout, udpTimeout]) {
        expect(timeout).toMatchObject({ kind: 'timeout', code: 'KPNG_ERR_PROBE_TIMEOUT' });
        expect(timeout.elapsedMs).toBeGreaterThanOrEqual(390);
      }
    }
  });

  it('routes a client to an extra node address (an ExternalIP) only once told to', async () => {
    const t = lab();
    const [client, node] = [t.client('client'), t.node('node-2')];
    for (const f of families) {
      const external = planAddress(t.plan.external[f], 5);
      await node.addAddress(external);
      expect((await failure(client.httpGet(urlFor(external, HTTP)))).kind).toBe('unreachable');
      await client.routeVia(t.plan.external[f], node);
      expect(parseEcho((await client.httpGet(urlFor(external, HTTP))).body)).toMatchObject({ pod: 'node-2', client: client.ip(f) });
      await node.removeAddress(external);
    }
  });

  it('runs a process inside a node with its output captured, and stops it', async () => {
    const node = lab().node('node-1');
    const child = node.spawn('sh', ['-c', 'echo started; ip -o addr show dev eth0; echo oops >&2; exec sleep 30']);
    await child.waitForOutput(/started/);
    await child.waitForOutput('oops');
    expect(child.stdout).toContain(node.ip());
    expect(child.stderr).toBe('oops\n');
    expect(child.running).toBe(true);
    expect(await child.stop()).toEqual({ exitCode: undefined, signal: 'SIGTERM' });
  });
});
