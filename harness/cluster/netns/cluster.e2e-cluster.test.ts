// A cluster without Docker, end to end: two netns nodes with real kubelets and containerd,
// a busybox pod on each, upstream kube-proxy (iptables) as kubeadm's DaemonSet, a ClusterIP
// Service answering from the other node, CoreDNS answering for Services, the e2e images'
// tools, and a stop that leaves nothing behind.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../../testing/until.ts';
import { cgroup2Hierarchy, cgroupHierarchies, cgroupPids } from './host.ts';
import { mountsUnder, namespacesOf, readSysctls, AGNHOST_IMAGE, BUSYBOX_IMAGE, JESSIE_DNSUTILS_IMAGE } from './index.ts';
import { netnsClusterSuite } from '../../testing/netns-cluster.ts';

interface PodJson {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string };
}

function pod(name: string, node: string, command: string[], extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: BUSYBOX_IMAGE, imagePullPolicy: 'Never', command }], ...extra },
  };
}

describe('a netns cluster (kubelet + containerd per node namespace)', () => {
  const sysctlsBefore = readSysctls();
  const { cluster: c, kubectlJson } = netnsClusterSuite({ nodes: 2 }, 300_000);

  it('has two Ready nodes with their pod CIDRs, zones and host names', async () => {
    const nodes = await kubectlJson<{ items: { metadata: { name: string; labels: Record<string, string> }; spec: { podCIDR: string }; status: { conditions: { type: string; status: string }[]; addresses: { type: string; address: string }[] } }[] }>(['get', 'nodes']);
    expect(nodes.items.map((n) => n.metadata.name)).toEqual(['node-1', 'node-2']);
    for (const [i, n] of nodes.items.entries()) {
      expect(n.status.conditions.find((x) => x.type === 'Ready')?.status).toBe('True');
      expect(n.spec.podCIDR).toBe(`10.244.${i + 1}.0/24`);
      expect(n.metadata.labels['topology.kubernetes.io/zone']).toBe(c().plan.nodes[i]!.zone);
      expect(n.status.addresses).toContainEqual({ type: 'InternalIP', address: `10.201.0.${11 + i}` });
      const hostname = await c().nodeExec(n.metadata.name, 'hostname', []);
      expect(hostname.stdout.trim()).toBe(n.metadata.name);
    }
  });

  it('runs a busybox pod on each node, with an address from that node’s pod CIDR, and reads its log through the kubelet', async () => {
    const server = pod('web', 'node-1', ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && echo serving && exec httpd -f -p 8080 -h /www']);
    const idle = pod('idle', 'node-2', ['sleep', '3600']);
    const created = await c().kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [server, idle] }) });
    expect(created.exitCode, created.stderr).toBe(0);
    const pods = await until('both pods Running', 120_000, async () => {
      const list = await kubectlJson<{ items: PodJson[] }>(['get', 'pods']);
      return list.items.length === 2 && list.items.every((p) => p.status.phase === 'Running' && p.status.podIP) ? list.items : undefined;
    });
    for (const p of pods) {
      const nodeIndex = p.spec.nodeName === 'node-1' ? 1 : 2;
      expect(p.status.podIP).toMatch(new RegExp(`^10\\.244\\.${nodeIndex}\\.\\d+$`));
    }
    // apiserver -> kubelet (its serving port, the client certificate) -> containerd's log.
    const logs = await until('the web pod’s log', 30_000, async () => {
      const r = await c().kubectl(['logs', 'web']);
      return r.exitCode === 0 && r.stdout.includes('serving') ? r.stdout : undefined;
    });
    expect(logs).toContain('serving');
  });

  it("keeps each node's processes and its pods' containers in the node's cgroup2 directory, the one nodeScope names for $(NODE_NAME)", async () => {
    const unified = cgroup2Hierarchy();
    expect(unified, 'a cgroup2 hierarchy is mounted').toBeDefined();
    const scope = await c().nodeScope('/sys/fs/bpf');
    for (const node of c().nodes) {
      const dir = scope.cgroup.replace('$(NODE_NAME)', node.plan.name);
      expect(dir).toBe(path.join(unified!, node.plan.cgroup2));
      // Every process of the node's v1 cgroups (containerd, shims, kubelet, the pods' containers, as runc placed them)...
      const pids = [node.plan.cgroupRoot, node.plan.runtimeCgroup, node.plan.kubeletCgroup].flatMap((g) => cgroupPids(g)).filter((pid) => existsSync(`/proc/${pid}`));
      expect(pids.length).toBeGreaterThan(3);
      // ...is in the node's cgroup2 directory or below it: its `0::` line.
      const outside = pids
        .map((pid) => ({ pid, cgroup2: /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1] ?? '' }))
        .filter((p) => existsSync(`/proc/${p.pid}`) && p.cgroup2 !== node.plan.cgroup2 && !p.cgroup2.startsWith(`${node.plan.cgroup2}/`));
      expect(outside).toEqual([]);
    }
    // A backend's state folder per node, removed by stop (checked there).
    mkdirSync(scope.state.replace('$(NODE_NAME)', 'node-1'));
  });

  it('with upstream kube-proxy (iptables) as kubeadm’s DaemonSet, a ClusterIP Service reaches the pod on node-1 from a pod on node-2', async () => {
    await c().deployKubeProxy();
    const proxies = await kubectlJson<{ items: PodJson[] }>(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy']);
    expect(proxies.items.map((p) => p.spec.nodeName).sort()).toEqual(['node-1', 'node-2']);
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] } };
    const created = await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(svc) });
    expect(created.exitCode, created.stderr).toBe(0);
    const service = await kubectlJson<{ spec: { clusterIP: string } }>(['get', 'service', 'web']);
    // Both kube-proxies have written the Service's rules once node-2's KUBE-SERVICES names it.
    await until('kube-proxy rules for the Service on both nodes', 60_000, async () => {
      const saves = await Promise.all(c().nodes.map((n) => c().nodeExec(n.plan.name, 'iptables-save', ['-t', 'nat'])));
      return saves.every((s) => s.stdout.includes(`-d ${service.spec.clusterIP}/32`)) ? true : undefined;
    });
    // nc, not wget: Debian's busybox-static 1.35 wget crashes (SIGSEGV) when given a timeout (-T).
    const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${service.spec.clusterIP} 80`;
    const client = pod('client', 'node-2', ['sh', '-c', `${get} | tail -n 1`], { restartPolicy: 'Never' });
    expect((await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(client) })).exitCode).toBe(0);
    const phase = await until('the client pod finishing', 90_000, async () => {
      const p = await kubectlJson<PodJson>(['get', 'pod', 'client']);
      return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p.status.phase : undefined;
    });
    const answer = await c().kubectl(['logs', 'client']);
    expect({ phase, answer: answer.stdout.trim() }).toEqual({ phase: 'Succeeded', answer: 'web' });
    // And from node-2's own network namespace (host-network traffic, kube-proxy's OUTPUT path).
    const fromNode = await c().nodeExec('node-2', 'busybox', ['sh', '-c', get]);
    expect(fromNode.stdout).toMatch(/^HTTP\/1\.[01] 200 OK\r\n[^]*\r\n\r\nweb\n$/);
  });

  it('runs the e2e suite’s agnhost image: netexec on node-2 answers /hostname and /clientip from node-1’s namespace', async () => {
    const netexec = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'netexec' }, spec: { nodeName: 'node-2', containers: [{ name: 'c', image: AGNHOST_IMAGE, imagePullPolicy: 'Never', args: ['netexec', '--http-port=8080'] }] } };
    expect((await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(netexec) })).exitCode).toBe(0);
    const ip = await until('netexec Running', 60_000, async () => {
      const p = await kubectlJson<PodJson>(['get', 'pod', 'netexec']);
      return p.status.phase === 'Running' ? p.status.podIP : undefined;
    });
    const get = (what: string) => c().nodeExec('node-1', 'busybox', ['sh', '-c', `printf 'GET /${what} HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${ip} 8080 | tail -n 1`]);
    const hostname = await until('netexec answering', 30_000, async () => {
      const r = await get('hostname');
      return r.stdout.trim() === 'netexec' ? r.stdout.trim() : undefined;
    });
    expect(hostname).toBe('netexec');
    // Pod-to-pod across nodes keeps the source address (node-1's own address: the namespace's traffic is not masqueraded).
    expect((await get('clientip')).stdout.trim()).toMatch(/^10\.201\.0\.11:\d+$/);
  });

  it('has CoreDNS (kubeadm’s, on 10.96.0.10) answering for Services and pods once the proxy runs', async () => {
    await c().waitForDns(120_000);
    const dig = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'dig' },
      spec: {
        nodeName: 'node-2',
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: JESSIE_DNSUTILS_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', 'dig +short +search web.default.svc.cluster.local; cat /etc/resolv.conf'] }],
      },
    };
    expect((await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(dig) })).exitCode).toBe(0);
    await until('the dig pod finishing', 60_000, async () => {
      const p = await kubectlJson<PodJson>(['get', 'pod', 'dig']);
      return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p.status.phase : undefined;
    });
    const service = await kubectlJson<{ spec: { clusterIP: string } }>(['get', 'service', 'web']);
    const out = (await c().kubectl(['logs', 'dig'])).stdout;
    expect(out.split('\n')[0]).toBe(service.spec.clusterIP);
    expect(out).toContain('nameserver 10.96.0.10');
  });

  it('gives the agnhost image the upstream image’s tools on Debian: bash, curl, GNU wget (its -T works), nc, dig, ip, iptables, conntrack', async () => {
    const script = [
      'set -e',
      'bash -c "echo bash ok"',
      'curl -s -m 5 -o /dev/null -w "curl %{http_code}\\n" http://web.default.svc.cluster.local/',
      'wget -q -T 5 -O - http://web.default.svc.cluster.local/ | sed "s/^/wget /"',
      'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 web 80 | tail -n 1 | sed "s/^/nc /"',
      'for t in dig ip iptables conntrack iperf nslookup ps; do command -v $t >/dev/null && echo "has $t"; done',
    ].join('\n');
    const tools = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'tools' }, spec: { nodeName: 'node-1', restartPolicy: 'Never', containers: [{ name: 'c', image: AGNHOST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', script] }] } };
    expect((await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(tools) })).exitCode).toBe(0);
    const phase = await until('the tools pod finishing', 60_000, async () => {
      const p = await kubectlJson<PodJson>(['get', 'pod', 'tools']);
      return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p.status.phase : undefined;
    });
    const out = (await c().kubectl(['logs', 'tools'])).stdout.trim().split('\n');
    expect({ phase, out }).toEqual({ phase: 'Succeeded', out: ['bash ok', 'curl 200', 'wget web', 'nc web', ...['dig', 'ip', 'iptables', 'conntrack', 'iperf', 'nslookup', 'ps'].map((t) => `has ${t}`)] });
  });

  it("stops leaving nothing behind: processes, namespaces, mounts, cgroups (v1 and cgroup2), the nodes' state folders, files, host sysctls", async () => {
    const { state, plan } = c();
    await c().stop();
    expect(await namespacesOf(state.id)).toEqual([]);
    expect(mountsUnder([state.dataDir, state.runDir])).toEqual([]);
    expect(cgroupHierarchies().filter((h) => existsSync(path.join(h, plan.cgroup)))).toEqual([]);
    expect(existsSync(path.join(cgroup2Hierarchy() ?? '/nonexistent', plan.cgroup))).toBe(false);
    expect(state.stateRoots).toEqual(['/sys/fs/bpf']);
    expect(existsSync(`/sys/fs/bpf/${state.id}-node-1`)).toBe(false);
    expect(existsSync(state.dataDir) || existsSync(state.runDir)).toBe(false);
    expect(readSysctls()).toEqual(sysctlsBefore);
    const ours = readFileSync('/proc/self/mountinfo', 'utf8').includes(state.id);
    expect(ours).toBe(false);
  });
});
