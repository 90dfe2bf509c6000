// A dual-stack cluster without Docker: two netns nodes with an address of each family on
// the switch and a pod CIDR of each, upstream kube-proxy (iptables and ip6tables) as
// kubeadm's DaemonSet, CoreDNS in IPv4 (the primary family), and a RequireDualStack
// Service reached over its IPv4 and its IPv6 cluster IP from a pod and from a node on the
// other node, by name in both families, and a stop that leaves nothing behind.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../../testing/until.ts';
import { cgroupHierarchies } from './host.ts';
import { mountsUnder, namespacesOf, readSysctls, AGNHOST_IMAGE } from './index.ts';
import { netnsClusterSuite } from '../../testing/netns-cluster.ts';

interface PodJson {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIPs?: { ip: string }[] };
}

const agnhostPod = (name: string, node: string, container: { args?: string[]; command?: string[] }, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: name } },
  spec: { nodeName: node, terminationGracePeriodSeconds: 1, ...spec, containers: [{ name: 'c', image: AGNHOST_IMAGE, imagePullPolicy: 'Never', ...container }] },
});

/** The URL of a port on an address of either family. */
const url = (ip: string, port: number, p: string) => `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}${p}`;

describe('a dual-stack netns cluster (IPv4 primary, IPv6 beside it)', () => {
  const sysctlsBefore = readSysctls();
  const { cluster: c, kubectlJson } = netnsClusterSuite({ nodes: 2, family: 'dual', proxy: 'kube-proxy' }, 420_000);
  const finished = (name: string) =>
    until(`pod ${name} finishing`, 120_000, async () => {
      const p = await kubectlJson<PodJson>(['get', 'pod', name]);
      return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p.status.phase : undefined;
    });

  it('has Ready nodes with an InternalIP and a pod CIDR of each family, IPv4 first, and the `kubernetes` Service in IPv4', async () => {
    const nodes = await kubectlJson<{ items: { metadata: { name: string }; spec: { podCIDRs: string[] }; status: { conditions: { type: string; status: string }[]; addresses: { type: string; address: string }[] } }[] }>(['get', 'nodes']);
    expect(
      nodes.items.map((n) => ({
        name: n.metadata.name,
        ready: n.status.conditions.find((x) => x.type === 'Ready')?.status,
        podCIDRs: n.spec.podCIDRs,
        internalIPs: n.status.addresses.filter((a) => a.type === 'InternalIP').map((a) => a.address),
      })),
    ).toEqual([
      { name: 'node-1', ready: 'True', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], internalIPs: ['10.201.0.11', 'fd00:201::11'] },
      { name: 'node-2', ready: 'True', podCIDRs: ['10.244.2.0/24', 'fd00:10:244:2::/64'], internalIPs: ['10.201.0.12', 'fd00:201::12'] },
    ]);
    const kubernetes = await kubectlJson<{ spec: { clusterIPs: string[] } }>(['get', 'service', 'kubernetes']);
    expect(kubernetes.spec.clusterIPs).toEqual(['10.96.0.1']);
    // The node namespaces' own IPv6 addresses are usable at once: no duplicate address detection left them tentative.
    const addrs = await c().nodeExec('node-1', 'ip', ['-6', 'addr', 'show', 'dev', 'eth0']);
    expect(addrs.stdout).toContain('inet6 fd00:201::11/64');
    expect(addrs.stdout).not.toContain('tentative');
  });

  it('reaches a RequireDualStack Service on node-1 over its IPv4 and its IPv6 cluster IP from a pod on node-2, keeping the pod’s address of each family', async () => {
    const web = agnhostPod('web', 'node-1', { args: ['netexec', '--http-port=8080'] });
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ipFamilyPolicy: 'RequireDualStack', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } };
    const created = await c().kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [web, svc] }) });
    expect(created.exitCode, created.stderr).toBe(0);
    const service = await kubectlJson<{ spec: { clusterIPs: string[]; ipFamilies: string[] } }>(['get', 'service', 'web']);
    expect(service.spec.ipFamilies).toEqual(['IPv4', 'IPv6']);
    const [v4, v6] = service.spec.clusterIPs;
    expect(v4).toMatch(/^10\.96\./);
    expect(v6).toMatch(/^fd00:10:96::/);
    const webPod = await until('web Running', 120_000, async () => {
      const p = await kubectlJson<PodJson>(['get', 'pod', 'web']);
      return p.status.phase === 'Running' ? p : undefined;
    });
    expect(webPod.status.podIPs?.map((p) => p.ip)).toEqual([expect.stringMatching(/^10\.244\.1\.\d+$/), expect.stringMatching(/^fd00:10:244:1::[0-9a-f]+$/)]);

    // Retried: kube-proxy writes the Service's rules on node-2 a moment after it exists.
    const get = (ip: string) => `for i in $(seq 30); do curl -s -m 2 ${url(ip, 80, '/clientip')} && echo && break; sleep 1; done`;
    const client = agnhostPod('client', 'node-2', { command: ['sh', '-c', `${get(v4!)}; ${get(v6!)}`] }, { restartPolicy: 'Never' });
    expect((await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(client) })).exitCode).toBe(0);
    expect(await finished('client')).toBe('Succeeded');
    const clientPod = await kubectlJson<PodJson>(['get', 'pod', 'client']);
    const [clientV4, clientV6] = clientPod.status.podIPs!.map((p) => p.ip);
    const answers = (await c().kubectl(['logs', 'client'])).stdout.trim().split('\n');
    // netexec's /clientip: the address the connection came from, unmasqueraded, in the family it went in.
    expect(answers.map((a) => a.replace(/:\d+$/, ''))).toEqual([clientV4, `[${clientV6}]`]);

    // And from node-2's own network namespace (kube-proxy's OUTPUT path), over each family.
    for (const [ip, from] of [
      [v4!, '10.201.0.12'],
      [v6!, '[fd00:201::12]'],
    ] as const) {
      const fromNode = await until(`node-2 reaching ${ip}`, 30_000, async () => {
        const r = await c().nodeExec('node-2', 'curl', ['-s', '-m', '2', url(ip, 80, '/clientip')]);
        return r.exitCode === 0 ? r.stdout.trim() : undefined;
      });
      expect(fromNode.replace(/:\d+$/, '')).toBe(from);
    }
  });

  it('has CoreDNS (on 10.96.0.10, the primary family) answering the Service’s name with an address of each family', async () => {
    const dig = agnhostPod('dig', 'node-2', { command: ['sh', '-c', 'dig +short +search web A; dig +short +search web AAAA; grep nameserver /etc/resolv.conf'] }, { restartPolicy: 'Never' });
    expect((await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(dig) })).exitCode).toBe(0);
    expect(await finished('dig')).toBe('Succeeded');
    const service = await kubectlJson<{ spec: { clusterIPs: string[] } }>(['get', 'service', 'web']);
    expect((await c().kubectl(['logs', 'dig'])).stdout.trim().split('\n')).toEqual([...service.spec.clusterIPs, 'nameserver 10.96.0.10']);
  });

  it('stops leaving nothing behind: processes, namespaces, mounts, cgroups, files, host sysctls', async () => {
    const { state, plan } = c();
    await c().stop();
    expect(await namespacesOf(state.id)).toEqual([]);
    expect(mountsUnder([state.dataDir, state.runDir])).toEqual([]);
    expect(cgroupHierarchies().filter((h) => existsSync(path.join(h, plan.cgroup)))).toEqual([]);
    expect(existsSync(state.dataDir) || existsSync(state.runDir)).toBe(false);
    expect(readSysctls()).toEqual(sysctlsBefore);
  });
});
