import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cniConfList, containerdConfig, controlPlaneFlags, kubeletArgs, kubeletConfig, kubeProxyConfig, nodePaths } from './configs.ts';
import { clusterPlan } from './plan.ts';

const plan = clusterPlan('kc12ab', 2);
const node = plan.nodes[1]!;
const paths = nodePaths('/var/lib/x/kc12ab', '/run/x/kc12ab', node);
const tls = { clientCAFile: '/ca.crt', certFile: '/k.crt', keyFile: '/k.key' };

interface CniConf {
  plugins: { type: string; bridge?: string; isGateway?: boolean; hairpinMode?: boolean; ipam?: { ranges: { subnet: string }[][]; routes: { dst: string }[]; dataDir: string } }[];
}

describe('what a netns node’s programs read', () => {
  it('gives containerd its own root, state, socket and runc root, the pause image, cgroupfs, and no oom_score_adj writes', () => {
    const text = containerdConfig(paths, '/usr/lib/cni');
    for (const line of [
      'root = "/var/lib/x/kc12ab/node-2/containerd"',
      'state = "/run/x/kc12ab/node-2/containerd"',
      'address = "/run/x/kc12ab/node-2/containerd.sock"',
      'sandbox_image = "registry.k8s.io/pause:3.10.1"',
      'restrict_oom_score_adj = true',
      'netns_mounts_under_state_dir = true',
      'SystemdCgroup = false',
      'Root = "/run/x/kc12ab/node-2/runc"',
      'conf_dir = "/var/lib/x/kc12ab/node-2/cni/net.d"',
      'bin_dir = "/usr/lib/cni"',
    ]) {
      expect(text).toContain(line);
    }
  });

  it('bridges pods on cni0 from the node’s pod CIDR, addresses kept per node', () => {
    const conf = JSON.parse(cniConfList(node, paths)) as CniConf;
    expect(conf.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(conf.plugins[0]).toMatchObject({ bridge: 'cni0', isGateway: true, hairpinMode: true, ipam: { ranges: [[{ subnet: '10.244.2.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/var/lib/x/kc12ab/node-2/cni/ipam' } });
  });

  it('gives a dual node’s pods an address and a default route of each family (IPv4 first), an IPv6 node’s IPv6 only', () => {
    const dualNode = clusterPlan('kc12ab', 2, 'dual').nodes[1]!;
    const dual = JSON.parse(cniConfList(dualNode, nodePaths('/d', '/r', dualNode))) as CniConf;
    expect(dual.plugins[0]!.ipam).toMatchObject({ ranges: [[{ subnet: '10.244.2.0/24' }], [{ subnet: 'fd00:10:244:2::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] });
    const v6Node = clusterPlan('kc12ab', 2, 'ipv6').nodes[1]!;
    const v6 = JSON.parse(cniConfList(v6Node, nodePaths('/d', '/r', v6Node))) as CniConf;
    expect(v6.plugins[0]!.ipam).toMatchObject({ ranges: [[{ subnet: 'fd00:10:244:2::/64' }]], routes: [{ dst: '::/0' }] });
    // Hairpin is what turns duplicate address detection off in the pods (the bridge plugin does it then).
    expect(v6.plugins[0]!.hairpinMode).toBe(true);
  });

  it('configures kubelet for cgroup v1 under the node’s own cgroup root, with its own pod logs, webhook auth and cluster DNS', () => {
    const config = parse(kubeletConfig(plan, node, paths, tls)) as Record<string, unknown>;
    expect(config).toMatchObject({
      kind: 'KubeletConfiguration',
      cgroupDriver: 'cgroupfs',
      cgroupRoot: '/kpng-kc12ab/node-2',
      failCgroupV1: false,
      failSwapOn: false,
      podLogsDir: '/var/lib/x/kc12ab/node-2/pod-logs',
      readOnlyPort: 0,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: '/ca.crt' } },
      authorization: { mode: 'Webhook' },
      clusterDNS: ['10.96.0.10'],
      containerRuntimeEndpoint: 'unix:///run/x/kc12ab/node-2/containerd.sock',
      imageGCHighThresholdPercent: 100,
      address: '0.0.0.0',
    });
    expect(kubeletArgs(node, paths)).toEqual(expect.arrayContaining(['--hostname-override=node-2', '--node-ip=10.201.0.12', '--root-dir=/var/lib/x/kc12ab/node-2/kubelet']));
  });

  it('names both of a dual node’s addresses to kubelet (its InternalIPs, IPv4 first), listens on both, and keeps the DNS of the primary family', () => {
    const dual = clusterPlan('kc12ab', 2, 'dual');
    const n = dual.nodes[0]!;
    expect(kubeletArgs(n, paths)).toContain('--node-ip=10.201.0.11,fd00:201::11');
    expect(parse(kubeletConfig(dual, n, paths, tls))).toMatchObject({ address: '::', clusterDNS: ['10.96.0.10'] });
    const v6 = clusterPlan('kc12ab', 2, 'ipv6');
    expect(kubeletArgs(v6.nodes[0]!, paths)).toContain('--node-ip=fd00:201::11');
    expect(parse(kubeletConfig(v6, v6.nodes[0]!, paths, tls))).toMatchObject({ address: '::', clusterDNS: ['fd00:10:96::a'] });
  });

  it('gives the upstream kube-proxy the cluster CIDR and leaves nf_conntrack_max alone', () => {
    expect(parse(kubeProxyConfig(plan, node, '/k'))).toMatchObject({ mode: 'iptables', hostnameOverride: 'node-2', clusterCIDR: '10.244.0.0/16', conntrack: { maxPerCore: 0 }, clientConnection: { kubeconfig: '/k' } });
    const dual = clusterPlan('kc12ab', 2, 'dual');
    expect(parse(kubeProxyConfig(dual, dual.nodes[0]!, '/k'))).toMatchObject({ clusterCIDR: '10.244.0.0/16,fd00:10:244::/56' });
  });
});

describe('the control plane’s flags per family', () => {
  it('keeps an IPv4 cluster on IPv4: every address, its own advertised, kind’s Service and pod CIDRs, /24 per node', () => {
    expect(controlPlaneFlags(plan)).toEqual({
      apiserver: ['--bind-address=0.0.0.0', '--advertise-address=10.201.0.2', '--service-cluster-ip-range=10.96.0.0/16'],
      controllerManager: ['--service-cluster-ip-range=10.96.0.0/16', '--cluster-cidr=10.244.0.0/16', '--node-cidr-mask-size-ipv4=24'],
    });
  });

  it('gives a dual cluster both Service and pod CIDRs, IPv4 first (the `kubernetes` Service’s family), and the mask size of each family', () => {
    expect(controlPlaneFlags(clusterPlan('kc12ab', 2, 'dual'))).toEqual({
      apiserver: ['--bind-address=::', '--advertise-address=10.201.0.2', '--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112'],
      controllerManager: ['--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112', '--cluster-cidr=10.244.0.0/16,fd00:10:244::/56', '--node-cidr-mask-size-ipv4=24', '--node-cidr-mask-size-ipv6=64'],
    });
  });

  it('advertises an IPv6 cluster’s API server on its IPv6 address', () => {
    expect(controlPlaneFlags(clusterPlan('kc12ab', 2, 'ipv6'))).toEqual({
      apiserver: ['--bind-address=::', '--advertise-address=fd00:201::2', '--service-cluster-ip-range=fd00:10:96::/112'],
      controllerManager: ['--service-cluster-ip-range=fd00:10:96::/112', '--cluster-cidr=fd00:10:244::/56', '--node-cidr-mask-size-ipv6=64'],
    });
  });
});
