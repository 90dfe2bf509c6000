// Traffic from another host through the eBPF backend's nft table: a client host on a veth
// link reaches NodePorts, external IPs and LoadBalancer IPs of the node over TCP and UDP,
// IPv4 and IPv6; Cluster policy is masqueraded (the other node's endpoints have no route
// back to the client), Local policy keeps the client's address and drops without a local
// endpoint; loadBalancerSourceRanges admit and drop, also for the node's own processes;
// ClientIP affinity holds a client to one endpoint until its timeout runs out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeView, type LocalState } from '../../model/index.ts';
import { changesBetween, localStateOf, node, service, slice } from '../../model/testing.ts';
import { memoryLogger } from '../../runtime/log.ts';
import { netnsRunner, processRunner, type Runner } from '../common/index.ts';
import { EbpfBackend } from './backend.ts';
import { ExternalLab, addr } from './external-lab.testkit.ts';
import { nftTable } from './external.ts';
import { Bpftool, hooks } from './kernel.ts';
import { builtObject } from './sock-lab.testkit.ts';

const ports = [
  { name: 'p', port: 80, targetPort: 8080 },
  { name: 'u', port: 53, protocol: 'UDP', targetPort: 5353 },
];
const slicePorts = [
  { name: 'p', port: 8080 },
  { name: 'u', port: 5353, protocol: 'UDP' },
];
const dual = (n: number) => [`10.96.1.${n}`, `fd00:96::1:${n}`];
const eps = (name: string, svc: string, v4: string[], v6: string[], nodeOf: (ip: string) => string) => [
  slice(`${name}-4`, svc, v4.map((ip) => ({ ip, node: nodeOf(ip) })), { ports: slicePorts }),
  slice(`${name}-6`, svc, v6.map((ip) => ({ ip, node: nodeOf(ip) })), { ports: slicePorts, addressType: 'IPv6' }),
];
const where = (ip: string) => (ip === addr.local4 || ip === addr.local6 ? 'node-a' : 'node-b');
const np = (tcp: number, udp: number) => [
  { ...ports[0]!, nodePort: tcp },
  { ...ports[1]!, nodePort: udp },
];

function objects(o: { npOthers?: number; locExternal?: string[]; affinity?: number | false } = {}): unknown[] {
  return [
    node('node-a', { addresses: [addr.node4, addr.node6] }),
    node('node-b', { addresses: [addr.remote4, addr.remote6] }),
    // Cluster policy, endpoints on the other node only.
    service('np', { type: 'NodePort', clusterIPs: dual(1), ports: np(30080, 30053), externalIPs: ['198.51.100.7', '2001:db8:7::7'] }),
    ...eps('np', 'np', addr.other4.slice(0, o.npOthers ?? 1), addr.other6.slice(0, o.npOthers ?? 1), where),
    // Local policy, an endpoint here and one on the other node.
    service('loc', { type: 'LoadBalancer', etp: 'Local', clusterIPs: dual(2), ports: np(30081, 30054), lbIngress: [{ ip: '203.0.113.10' }, { ip: '2001:db8:10::10' }], ...(o.locExternal && { externalIPs: o.locExternal }) }),
    ...eps('loc', 'loc', [addr.local4, addr.other4[0]!], [addr.local6, addr.other6[0]!], where),
    // Local policy, no endpoint here.
    service('nolocal', { type: 'NodePort', etp: 'Local', clusterIPs: dual(3), ports: np(30082, 30055) }),
    ...eps('nolocal', 'nolocal', [addr.other4[0]!], [addr.other6[0]!], where),
    // Source ranges: the client only; nobody here; the node's subnet.
    service('client-only', { type: 'LoadBalancer', clusterIPs: dual(4), ports: np(30083, 30056), lbIngress: [{ ip: '203.0.113.20' }, { ip: '2001:db8:20::20' }], sourceRanges: [`${addr.client4}/32`, `${addr.client6}/128`] }),
    ...eps('client-only', 'client-only', [addr.local4], [addr.local6], where),
    service('nobody', { type: 'LoadBalancer', clusterIPs: dual(5), ports: np(30084, 30057), lbIngress: [{ ip: '203.0.113.30' }, { ip: '2001:db8:30::30' }], sourceRanges: ['10.200.0.0/16', 'fd00:200::/64'] }),
    ...eps('nobody', 'nobody', [addr.local4], [addr.local6], where),
    service('subnet', { type: 'LoadBalancer', clusterIPs: dual(6), ports: np(30085, 30058), lbIngress: [{ ip: '203.0.113.40' }, { ip: '2001:db8:40::40' }], sourceRanges: ['192.168.60.0/24', 'fd00:60::/64'] }),
    ...eps('subnet', 'subnet', [addr.other4[0]!], [addr.other6[0]!], where),
    // ClientIP affinity (a long timeout unless told), two endpoints on the other node.
    service('sticky', { type: 'NodePort', affinity: o.affinity ?? 600, clusterIPs: dual(8), ports: np(30087, 30060) }),
    ...eps('sticky', 'sticky', addr.other4, addr.other6, where),
    // No endpoint anywhere.
    service('none', { type: 'NodePort', clusterIPs: dual(7), ports: np(30086, 30059), externalIPs: ['198.51.100.9', '2001:db8:9::9'] }),
  ];
}

describe('ebpf: traffic from another host (nft table inet kpng-ebpf)', () => {
  const lab = new ExternalLab();
  let backend: EbpfBackend;
  let state: LocalState;
  const sent: string[] = [];

  const answers = (mode: 'tcp' | 'udp', host: string, port: number, n: number) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add(lab.fromClient(mode, host, port).data ?? 'none');
    return seen;
  };
  /** The clients the sticky Service's IPv4 TCP affinity sets hold. */
  const held = () => {
    const doc = JSON.parse(lab.nft('-j', 'list', 'table', 'inet', 'kpng-ebpf').out) as { nftables: Array<{ set?: { name: string; elem?: Array<string | { elem: { val: string } }> } }> };
    const sets = doc.nftables.flatMap((o) => (o.set && o.set.name.startsWith('aff4-') && o.set.name.includes('default/sticky/p__') ? [o.set] : []));
    expect(sets).toHaveLength(2);
    return sets.flatMap((x) => (x.elem ?? []).map((e) => (typeof e === 'string' ? e : e.elem.val)));
  };

  beforeAll(async () => {
    const object = builtObject();
    await lab.create();
    const serve = (a: string) => [`tcp:${a}:8080`, `udp:${a}:5353`];
    await lab.serve(lab.node, [...serve(addr.local4), ...serve(addr.local6)]);
    await lab.serve(lab.remote, [...addr.other4, ...addr.other6].flatMap(serve));
    const inNode = netnsRunner(lab.node);
    const recording: Runner = async (file, args, opts) => {
      if (file === 'nft' && args.includes('-f') && opts?.input) sent.push(opts.input);
      return inNode(file, args, opts);
    };
    backend = new EbpfBackend({ logger: memoryLogger(), runner: processRunner(), netRunner: recording, cgroupPath: lab.cgroup, pinPath: lab.pinPath, objectPath: object });
    await backend.setup();
    state = localStateOf(objects());
    await backend.sync(nodeView(state), undefined);
  }, 60_000);
  afterAll(async () => {
    try {
      await backend?.cleanup();
    } finally {
      lab.destroy();
    }
  });

  it('Cluster policy: NodePort and external IP reach the other node\'s endpoint over TCP and UDP, IPv4 and IPv6, masqueraded', () => {
    expect(lab.fromClient('tcp', addr.node4, 30080).data).toBe(`${addr.other4[0]}#8080 ${addr.nodeToRemote4}`);
    expect(lab.fromClient('tcp', '198.51.100.7', 80).data).toBe(`${addr.other4[0]}#8080 ${addr.nodeToRemote4}`);
    expect(lab.fromClient('udp', addr.node4, 30053)).toMatchObject({ data: `${addr.other4[0]}#5353 ${addr.nodeToRemote4}`, from: addr.node4, fromPort: 30053 });
    expect(lab.fromClient('udp', '198.51.100.7', 53)).toMatchObject({ data: `${addr.other4[0]}#5353 ${addr.nodeToRemote4}`, from: '198.51.100.7' });
    expect(lab.fromClient('tcp', addr.node6, 30080).data).toBe(`${addr.other6[0]}#8080 ${addr.nodeToRemote6}`);
    expect(lab.fromClient('tcp', '2001:db8:7::7', 80).data).toBe(`${addr.other6[0]}#8080 ${addr.nodeToRemote6}`);
    expect(lab.fromClient('udp', addr.node6, 30053)).toMatchObject({ data: `${addr.other6[0]}#5353 ${addr.nodeToRemote6}`, from: addr.node6 });
  });

  it('Local policy: the local endpoint only, and it sees the client\'s own address (NodePort and LB IP, TCP and UDP, IPv4 and IPv6)', () => {
    for (let i = 0; i < 6; i++) expect(lab.fromClient('tcp', '203.0.113.10', 80).data).toBe(`${addr.local4}#8080 ${addr.client4}`);
    expect(lab.fromClient('tcp', addr.node4, 30081).data).toBe(`${addr.local4}#8080 ${addr.client4}`);
    expect(lab.fromClient('udp', addr.node4, 30054).data).toBe(`${addr.local4}#5353 ${addr.client4}`);
    expect(lab.fromClient('tcp', '2001:db8:10::10', 80).data).toBe(`${addr.local6}#8080 ${addr.client6}`);
    expect(lab.fromClient('udp', '2001:db8:10::10', 53).data).toBe(`${addr.local6}#5353 ${addr.client6}`);
  });

  it('Local policy without a local endpoint: dropped (no answer, not refused); no endpoint at all: refused at once (IPv4 and IPv6, TCP and UDP)', () => {
    expect(lab.fromClient('tcp', addr.node4, 30082, 1500).error).toBe('timeout');
    expect(lab.fromClient('tcp', addr.node6, 30082, 1500).error).toBe('timeout');
    // An external IP routes on (back toward the client) unless refused: only the rule answers.
    expect(lab.fromClient('tcp', '198.51.100.9', 80, 1500).error).toBe('ECONNREFUSED');
    expect(lab.fromClient('tcp', '2001:db8:9::9', 80, 1500).error).toBe('ECONNREFUSED');
    expect(lab.fromClient('udpc', '198.51.100.9', 53, 1500).error).toBe('ECONNREFUSED');
    expect(lab.fromClient('tcp', addr.node4, 30086, 1500).error).toBe('ECONNREFUSED');
  });

  it('loadBalancerSourceRanges: a client in range gets through, one outside is dropped (IPv4 and IPv6)', () => {
    expect(lab.fromClient('tcp', '203.0.113.20', 80).data).toBe(`${addr.local4}#8080 ${addr.client4}`);
    expect(lab.fromClient('udp', '203.0.113.20', 53).data).toBe(`${addr.local4}#5353 ${addr.client4}`);
    expect(lab.fromClient('tcp', '2001:db8:20::20', 80).data).toBe(`${addr.local6}#8080 ${addr.client6}`);
    expect(lab.fromClient('tcp', '203.0.113.30', 80, 1500).error).toBe('timeout');
    expect(lab.fromClient('tcp', '2001:db8:30::30', 80, 1500).error).toBe('timeout');
  });

  it("the node's own processes reach source-ranged LB IPs through the packet path, and the ranges apply to them too", () => {
    // The node's address is in 192.168.60.0/24: admitted, masqueraded toward the other node.
    expect(lab.fromNode('tcp', '203.0.113.40', 80).data).toBe(`${addr.other4[0]}#8080 ${addr.nodeToRemote4}`);
    expect(lab.fromNode('udp', '203.0.113.40', 53).data).toBe(`${addr.other4[0]}#5353 ${addr.nodeToRemote4}`);
    expect(lab.fromNode('tcp', '2001:db8:40::40', 80).data).toBe(`${addr.other6[0]}#8080 ${addr.nodeToRemote6}`);
    // Only the client's address is admitted: the node is not.
    expect(lab.fromNode('tcp', '203.0.113.20', 80, 1500).error).toBe('timeout');
    // Without source ranges the socket hooks serve LB IPs: the same endpoint choice, no NAT.
    expect(lab.fromNode('tcp', '203.0.113.10', 80).data).toMatch(/^10\.99\.[12]\.1#8080 /);
  });

  it('a partial sync sends only the changed elements and chains', async () => {
    sent.length = 0;
    let next = localStateOf(objects({ locExternal: ['198.51.100.8'] }));
    let stats = await backend.sync(nodeView(next), changesBetween(state, next));
    state = next;
    expect(stats.full).toBe(false);
    const lines = sent.join('').trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(new RegExp(`^add element ${nftTable} external4 \\{ 198\\.51\\.100\\.8 \\. (tcp \\. 80|udp \\. 53) : goto ext4-`));
    expect(lab.fromClient('tcp', '198.51.100.8', 80).data).toBe(`${addr.local4}#8080 ${addr.client4}`);

    sent.length = 0;
    next = localStateOf(objects({ locExternal: ['198.51.100.8'], npOthers: 2 }));
    stats = await backend.sync(nodeView(next), changesBetween(state, next));
    state = next;
    // Four chains (TCP and UDP, IPv4 and IPv6), each: add, flush, mark, two DNAT rules.
    expect(stats).toMatchObject({ full: false, nftLines: 4 * 5 });
    const text = sent.join('');
    expect(text).not.toMatch(/element|table/);
    expect(text.match(/^flush chain .*$/gm)!.every((l) => /-default\/np\//.test(l))).toBe(true);
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) seen.add(lab.fromClient('tcp', addr.node4, 30080).data ?? 'none');
    expect(seen).toEqual(new Set(addr.other4.map((a) => `${a}#8080 ${addr.nodeToRemote4}`)));
  });

  it('ClientIP affinity: a client from another host gets one endpoint every time (TCP and UDP, IPv4 and IPv6), kept by a full sync; a new timeout runs out; without affinity the endpoints share the clients', async () => {
    const tcp4 = answers('tcp', addr.node4, 30087, 10);
    expect(tcp4.size).toBe(1);
    expect([...tcp4][0]).toMatch(new RegExp(`^10\\.99\\.2\\.[12]#8080 ${addr.nodeToRemote4}$`));
    expect(held()).toEqual([addr.client4]);
    expect(answers('tcp', addr.node6, 30087, 6).size).toBe(1);
    expect(answers('udp', addr.node4, 30060, 6).size).toBe(1);

    // A full sync over the table it trusts keeps what the sets learnt (the table is not replaced).
    sent.length = 0;
    await backend.sync(nodeView(state), undefined);
    expect(sent.join('')).not.toMatch(/delete table/);
    expect(held()).toEqual([addr.client4]);
    expect(answers('tcp', addr.node4, 30087, 4)).toEqual(tcp4);

    // A timeout of 2 s (a partial sync: new sets): the client is held, then forgotten.
    let next = localStateOf(objects({ locExternal: ['198.51.100.8'], npOthers: 2, affinity: 2 }));
    expect((await backend.sync(nodeView(next), changesBetween(state, next))).full).toBe(false);
    state = next;
    expect(held()).toEqual([]);
    lab.fromClient('tcp', addr.node4, 30087);
    expect(held()).toEqual([addr.client4]);
    await new Promise((r) => setTimeout(r, 2500));
    expect(held()).toEqual([]);

    // No affinity: the sets are gone and the clients spread over both endpoints.
    next = localStateOf(objects({ locExternal: ['198.51.100.8'], npOthers: 2, affinity: false }));
    await backend.sync(nodeView(next), changesBetween(state, next));
    state = next;
    expect(lab.nft('list', 'table', 'inet', 'kpng-ebpf').out).not.toMatch(/aff[46]-/);
    expect(answers('tcp', addr.node4, 30087, 16)).toEqual(new Set(addr.other4.map((a) => `${a}#8080 ${addr.nodeToRemote4}`)));
    next = localStateOf(objects({ locExternal: ['198.51.100.8'], npOthers: 2 }));
    await backend.sync(nodeView(next), changesBetween(state, next));
    state = next;
    expect(answers('tcp', addr.node4, 30087, 6).size).toBe(1);
  });

  it('tampering with the table (an element deleted, a chain flushed) is noticed and the next full sync repairs it', async () => {
    expect(await backend.tampered()).toBe(false);
    expect(lab.nft('delete', 'element', 'inet', 'kpng-ebpf', 'external4', '{ 198.51.100.7 . tcp . 80 }').ok).toBe(true);
    expect(await backend.tampered()).toBe(true);
    await backend.sync(nodeView(state), undefined);
    expect(await backend.tampered()).toBe(false);
    expect(lab.nft('flush', 'chain', 'inet', 'kpng-ebpf', 'nat-postrouting').ok).toBe(true);
    expect(await backend.tampered()).toBe(true);
    await backend.sync(nodeView(state), undefined);
    expect(lab.fromClient('tcp', '198.51.100.7', 80).data).toMatch(/^10\.99\.2\.[12]#8080 192\.168\.61\.1$/);
  });

  it('programs detached by someone else: the next full sync loads them again and rewrites the table in place (ClientIP affinity kept)', async () => {
    const sticky = answers('tcp', addr.node4, 30087, 4);
    expect(sticky.size).toBe(1);
    expect(held()).toEqual([addr.client4]);
    const tool = new Bpftool(processRunner());
    expect(await tool.detachAll(lab.cgroup)).toBe(hooks.length);
    expect(await backend.tampered()).toBe(true);
    sent.length = 0;
    await backend.sync(nodeView(state), undefined);
    expect(sent.join('')).not.toMatch(/delete table/);
    expect(await tool.attached(lab.cgroup)).toHaveLength(hooks.length);
    expect(await backend.tampered()).toBe(false);
    expect(held()).toEqual([addr.client4]);
    expect(answers('tcp', addr.node4, 30087, 4)).toEqual(sticky);
  });

  it('cleanup deletes the table: the NodePort answers no more', async () => {
    await backend.cleanup();
    expect(lab.nft('list', 'table', 'inet', 'kpng-ebpf').ok).toBe(false);
    expect(lab.fromClient('tcp', addr.node4, 30080, 1500).data).toBeUndefined();
  });
});

describe('ebpf: a failed setup removes a previous run\'s table too', () => {
  const lab = new ExternalLab();
  afterAll(() => lab.destroy());

  it('a program the kernel cannot load: the stale table is gone, nothing is left', async () => {
    await lab.create();
    expect(lab.nft('add', 'table', 'inet', 'kpng-ebpf').ok).toBe(true);
    const b = new EbpfBackend({ logger: memoryLogger(), runner: processRunner(), netRunner: netnsRunner(lab.node), cgroupPath: lab.cgroup, pinPath: lab.pinPath, objectPath: '/dev/null' });
    await expect(b.setup()).rejects.toThrow(/^KPNG_ERR_EBPF_SETUP: loading \/dev\/null/);
    expect(lab.nft('list', 'table', 'inet', 'kpng-ebpf').ok).toBe(false);
  });
});
