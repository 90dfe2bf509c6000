import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cniConfList, containerdConfig, kubeletArgs, kubeletConfig, kubeProxyConfig, nodePaths } from './configs.ts';
import { clusterPlan } from './plan.ts';

const plan = clusterPlan('kc12ab', 2);
const node = plan.nodes[1]!;
const paths = nodePaths('/var/lib/x/kc12ab', '/run/x/kc12ab', node);

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
    const conf = JSON.parse(cniConfList(node, paths)) as { plugins: { type: string; bridge?: string; isGateway?: boolean; hairpinMode?: boolean; ipam?: { ranges: { subnet: string }[][]; dataDir: string } }[] };
    expect(conf.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(conf.plugins[0]).toMatchObject({ bridge: 'cni0', isGateway: true, hairpinMode: true, ipam: { ranges: [[{ subnet: '10.244.2.0/24' }]], dataDir: '/var/lib/x/kc12ab/node-2/cni/ipam' } });
  });

  it('configures kubelet for cgroup v1 under the node’s own cgroup root, with its own pod logs, webhook auth and cluster DNS', () => {
    const config = parse(kubeletConfig(plan, node, paths, { clientCAFile: '/ca.crt', certFile: '/k.crt', keyFile: '/k.key' })) as Record<string, unknown>;
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
    });
    expect(kubeletArgs(node, paths)).toEqual(expect.arrayContaining(['--hostname-override=node-2', '--node-ip=10.201.0.12', '--root-dir=/var/lib/x/kc12ab/node-2/kubelet']));
  });

  it('gives the upstream kube-proxy the cluster CIDR and leaves nf_conntrack_max alone', () => {
    expect(parse(kubeProxyConfig(plan, node, '/k'))).toMatchObject({ mode: 'iptables', hostnameOverride: 'node-2', clusterCIDR: '10.244.0.0/16', conntrack: { maxPerCore: 0 }, clientConnection: { kubeconfig: '/k' } });
  });
});
