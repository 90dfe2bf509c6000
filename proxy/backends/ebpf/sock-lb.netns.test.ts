// Socket load balancing with real sockets: the backend loads and attaches its programs to a
// cgroup the test made, processes started in that cgroup connect to service addresses that
// route nowhere, and reach the endpoints' TCP and UDP servers in a namespace of the test's.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeView, type LocalState } from '../../model/index.ts';
import { changesBetween, localStateOf, node, service, slice } from '../../model/testing.ts';
import { memoryLogger } from '../../runtime/log.ts';
import { EbpfBackend } from './backend.ts';
import { Bpftool, hooks } from './kernel.ts';
import { netnsRunner, processRunner } from '../common/index.ts';
import { SockLab, builtObject } from './sock-lab.testkit.ts';

const eps4 = ['10.99.1.1', '10.99.1.2', '10.99.1.3'];
const eps6 = ['fd00:99:1::1', 'fd00:99:1::2'];
const p = [{ name: 'p', port: 8080 }];
const pu = [{ name: 'u', port: 5353, protocol: 'UDP' }];

function objects(tcpEndpoints = eps4.slice(0, 2)): unknown[] {
  return [
    node('node-a', { addresses: ['192.168.50.2'] }),
    service('tcp', { clusterIPs: ['10.96.0.10', 'fd00:96::10'], ports: [{ name: 'p', port: 80, targetPort: 8080 }] }),
    slice('tcp-4', 'tcp', tcpEndpoints.map((ip) => ({ ip, node: 'node-a' })), { ports: p }),
    slice('tcp-6', 'tcp', eps6.map((ip) => ({ ip, node: 'node-a' })), { ports: p }),
    service('udp', { clusterIPs: ['10.96.0.11', 'fd00:96::11'], ports: [{ name: 'u', port: 53, protocol: 'UDP', targetPort: 5353 }] }),
    slice('udp-4', 'udp', [eps4[0]!], { ports: pu }),
    slice('udp-6', 'udp', [eps6[0]!], { ports: pu }),
    service('empty', { clusterIPs: ['10.96.0.12', 'fd00:96::12'], ports: [{ name: 'p', port: 80 }, { name: 'u', port: 53, protocol: 'UDP' }] }),
    service('sticky', { clusterIPs: ['10.96.0.13'], ports: [{ name: 'p', port: 80, targetPort: 8080 }], affinity: 60 }),
    slice('sticky', 'sticky', eps4.map((ip) => ({ ip, node: 'node-a' })), { ports: p }),
    service('np', { type: 'NodePort', clusterIPs: ['10.96.0.14'], ports: [{ name: 'p', port: 80, targetPort: 8080, nodePort: 30080 }], externalIPs: ['198.51.100.7'] }),
    slice('np', 'np', [{ ip: eps4[2]!, node: 'node-a' }], { ports: p }),
  ];
}

describe('ebpf: socket load balancing in a cgroup of the test', () => {
  const lab = new SockLab();
  let object = '';
  let backend: EbpfBackend;
  let state: LocalState;
  const tool = new Bpftool(processRunner());

  beforeAll(async () => {
    object = builtObject();
    await lab.create([...eps4, ...eps6]);
    await lab.serve([...eps4.map((a) => `tcp:${a}:8080`), ...eps6.map((a) => `tcp:${a}:8080`), `udp:${eps4[0]}:5353`, `udp:${eps6[0]}:5353`]);
    backend = new EbpfBackend({ logger: memoryLogger(), netRunner: netnsRunner(lab.ns), cgroupPath: lab.cgroup, pinPath: lab.pinPath, objectPath: object });
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

  it('a TCP connect to the cluster IP reaches an endpoint, over IPv4 and IPv6, and every endpoint gets some', async () => {
    const seen4 = new Set<string>();
    for (let i = 0; i < 20; i++) seen4.add((await lab.probe('tcp', '10.96.0.10', 80)).data ?? 'none');
    expect(seen4).toEqual(new Set(eps4.slice(0, 2).map((a) => `${a}#8080`)));
    const seen6 = new Set<string>();
    for (let i = 0; i < 20; i++) seen6.add((await lab.probe('tcp', 'fd00:96::10', 80)).data ?? 'none');
    expect(seen6).toEqual(new Set(eps6.map((a) => `${a}#8080`)));
  });

  it('a process outside the cgroup is not load-balanced (the service address routes nowhere)', async () => {
    const r = await lab.probe('tcp', '10.96.0.10', 80, false);
    expect(r.data).toBeUndefined();
    expect(r.error).toBeDefined();
  });

  it('a UDP reply comes from the service address, and a connected UDP socket\'s peer is the service (IPv4 and IPv6)', async () => {
    expect(await lab.probe('udp', '10.96.0.11', 53)).toMatchObject({ data: `${eps4[0]}#5353`, from: '10.96.0.11', fromPort: 53 });
    expect(await lab.probe('udpc', '10.96.0.11', 53)).toMatchObject({ data: `${eps4[0]}#5353`, from: '10.96.0.11', fromPort: 53, peer: { address: '10.96.0.11', port: 53 } });
    expect(await lab.probe('udp', 'fd00:96::11', 53)).toMatchObject({ data: `${eps6[0]}#5353`, from: 'fd00:96::11', fromPort: 53 });
    expect(await lab.probe('udpc', 'fd00:96::11', 53)).toMatchObject({ peer: { address: 'fd00:96::11', port: 53 } });
  });

  it('a service without endpoints is refused at once with ECONNREFUSED, TCP and UDP, IPv4 and IPv6', async () => {
    for (const host of ['10.96.0.12', 'fd00:96::12']) {
      const tcp = await lab.probe('tcp', host, 80);
      expect(tcp.error).toBe('ECONNREFUSED');
      expect(tcp.ms).toBeLessThan(1000);
      expect((await lab.probe('udp', host, 53)).error).toBe('ECONNREFUSED');
    }
  });

  it('ClientIP affinity: every connection of the client goes to one endpoint', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add((await lab.probe('tcp', '10.96.0.13', 80)).data ?? 'none');
    expect(seen.size).toBe(1);
    expect(eps4.map((a) => `${a}#8080`)).toContain([...seen][0]);
  });

  it('a NodePort on the node address and an external IP reach the endpoint', async () => {
    expect((await lab.probe('tcp', '192.168.50.2', 30080)).data).toBe(`${eps4[2]}#8080`);
    expect((await lab.probe('tcp', '198.51.100.7', 80)).data).toBe(`${eps4[2]}#8080`);
  });

  it('an endpoint change is a partial sync of a few entries, and connections follow it', async () => {
    const next = localStateOf(objects([eps4[2]!]));
    const stats = await backend.sync(nodeView(next), changesBetween(state, next));
    state = next;
    expect(stats.full).toBe(false);
    expect(stats.ops).toBeLessThanOrEqual(3);
    for (let i = 0; i < 4; i++) expect((await lab.probe('tcp', '10.96.0.10', 80)).data).toBe(`${eps4[2]}#8080`);
  });

  it('tampering (a detached program) is noticed and the next full sync repairs it', async () => {
    const [first] = await tool.attached(lab.cgroup);
    const r = await processRunner()('bpftool', ['cgroup', 'detach', lab.cgroup, first!.hook, 'id', String(first!.id)]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await backend.tampered()).toBe(true);
    await backend.sync(nodeView(state), undefined);
    expect(await backend.tampered()).toBe(false);
    expect((await lab.probe('tcp', '10.96.0.10', 80)).data).toBe(`${eps4[2]}#8080`);
  });

  it('two removals at once (a reload while someone wipes the programs) both finish, and each program is detached once', async () => {
    const counts = await Promise.all([tool.detachAll(lab.cgroup), tool.detachAll(lab.cgroup)]);
    expect(counts[0]! + counts[1]!).toBe(hooks.length);
    expect(await tool.attached(lab.cgroup)).toEqual([]);
  });

  it('cleanup detaches every program and removes the pins', async () => {
    await backend.cleanup();
    expect(await tool.attached(lab.cgroup)).toEqual([]);
    expect(existsSync(lab.pinPath)).toBe(false);
    expect((await lab.probe('tcp', '10.96.0.10', 80)).data).toBeUndefined();
  });
});

describe('ebpf: a failed setup leaves nothing behind', () => {
  const lab = new SockLab();
  afterAll(() => lab.destroy());

  it('a program the kernel cannot load: no pin, no attached program', async () => {
    await lab.create([]);
    const b = new EbpfBackend({ logger: memoryLogger(), netRunner: netnsRunner(lab.ns), cgroupPath: lab.cgroup, pinPath: lab.pinPath, objectPath: '/dev/null' });
    await expect(b.setup()).rejects.toThrow(/^KPNG_ERR_EBPF_SETUP: loading \/dev\/null/);
    expect(existsSync(lab.pinPath)).toBe(false);
    expect(await new Bpftool(processRunner()).attached(lab.cgroup)).toEqual([]);
  });
});
