// What each node's programs read (pure): containerd's config.toml, the CNI network list,
// kubelet's KubeletConfiguration, kube-proxy's KubeProxyConfiguration, and kubeconfigs.
// The choices follow what ran the upstream sig-network suite on netns nodes
// (shared/reference/docker-free-cluster.md); each one that is not a default says why.
import { stringify } from 'yaml';
import { isIPv6, type ClusterPlan, type NodePlan } from './plan.ts';
import { PAUSE_IMAGE } from './images.ts';

/** Where one node's files and sockets are. */
export interface NodePaths {
  /** <dataDir>/<id>/<node> */
  dir: string;
  /** <runDir>/<id>/<node> */
  run: string;
  containerdConfig: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  runcRoot: string;
  cniConfDir: string;
  cniDataDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  podLogsDir: string;
  resolvConf: string;
  uts: string;
}

export function nodePaths(dataDir: string, runDir: string, node: NodePlan): NodePaths {
  const dir = `${dataDir}/${node.name}`;
  const run = `${runDir}/${node.name}`;
  return {
    dir,
    run,
    containerdConfig: `${dir}/containerd.toml`,
    containerdRoot: `${dir}/containerd`,
    containerdState: `${run}/containerd`,
    containerdSocket: `${run}/containerd.sock`,
    runcRoot: `${run}/runc`,
    cniConfDir: `${dir}/cni/net.d`,
    cniDataDir: `${dir}/cni/ipam`,
    kubeletRoot: `${dir}/kubelet`,
    kubeletConfig: `${dir}/kubelet-config.yaml`,
    kubeletKubeconfig: `${dir}/kubelet.kubeconfig`,
    // Per node: kubelets share the filesystem, and each one's log GC deletes logs it does not know.
    podLogsDir: `${dir}/pod-logs`,
    resolvConf: `${dir}/resolv.conf`,
    uts: `${run}/uts`,
  };
}

const toml = (value: string | number | boolean): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

export function containerdConfig(paths: NodePaths, cniBinDir: string): string {
  const lines: [string, Record<string, string | number | boolean>][] = [
    ['', { version: 2, root: paths.containerdRoot, state: paths.containerdState, oom_score: 0 }],
    ['grpc', { address: paths.containerdSocket }],
    ['ttrpc', { address: `${paths.containerdSocket}.ttrpc` }],
    ['debug', { address: '', level: 'info' }],
    ['metrics', { address: '' }],
    ['plugins."io.containerd.internal.v1.opt"', { path: `${paths.containerdRoot}/opt` }],
    [
      'plugins."io.containerd.grpc.v1.cri"',
      {
        sandbox_image: PAUSE_IMAGE,
        // The bounding set may lack CAP_SYS_RESOURCE: without this every sandbox fails
        // ("failed to update /proc/self/oom_score_adj: Permission denied").
        restrict_oom_score_adj: true,
        // Pod network namespaces under this node's state folder, not the host's /var/run/netns.
        netns_mounts_under_state_dir: true,
        stream_server_address: '127.0.0.1',
        stream_server_port: '0',
        enable_selinux: false,
        disable_apparmor: true,
      },
    ],
    ['plugins."io.containerd.grpc.v1.cri".cni', { bin_dir: cniBinDir, conf_dir: paths.cniConfDir, max_conf_num: 1 }],
    ['plugins."io.containerd.grpc.v1.cri".containerd', { snapshotter: 'overlayfs', default_runtime_name: 'runc' }],
    ['plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc', { runtime_type: 'io.containerd.runc.v2' }],
    ['plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options', { SystemdCgroup: false, Root: paths.runcRoot }],
  ];
  const out: string[] = ['# Written by kpng-harness (harness/cluster/netns) for one netns cluster node.'];
  out.push('disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]');
  for (const [table, values] of lines) {
    if (table !== '') out.push('', `[${table}]`);
    for (const [k, v] of Object.entries(values)) out.push(`${table === '' ? '' : '  '}${k} = ${toml(v)}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * bridge (cni0, the pods' gateway, hairpin) + host-local + portmap. One host-local range
 * per pod CIDR of the node: a dual node's pods get an address of each family (the primary
 * one first) and a default route of each. With hairpin on, the bridge plugin turns off
 * duplicate address detection in the pod (a hairpinned solicitation would fail it).
 */
export function cniConfList(node: NodePlan, paths: NodePaths): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'kpng-netns',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          hairpinMode: true,
          ipMasq: false,
          ipam: {
            type: 'host-local',
            ranges: node.podCIDRs.map((subnet) => [{ subnet }]),
            routes: node.podCIDRs.map((cidr) => ({ dst: isIPv6(cidr) ? '::/0' : '0.0.0.0/0' })),
            dataDir: paths.cniDataDir,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

export interface KubeletTLS {
  clientCAFile: string;
  certFile: string;
  keyFile: string;
}

export function kubeletConfig(plan: ClusterPlan, node: NodePlan, paths: NodePaths, tls: KubeletTLS): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'cgroupfs',
    // Pre-created in every hierarchy (kubelet refuses to start without it).
    cgroupRoot: node.cgroupRoot,
    cgroupsPerQOS: true,
    enforceNodeAllocatable: ['pods'],
    failSwapOn: false,
    failCgroupV1: false,
    podLogsDir: paths.podLogsDir,
    // Every node sees the whole disk and memory: evict only when really short.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    readOnlyPort: 0,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: tls.clientCAFile } },
    authorization: { mode: 'Webhook' },
    tlsCertFile: tls.certFile,
    tlsPrivateKeyFile: tls.keyFile,
    clusterDNS: [plan.clusterDNS],
    clusterDomain: 'cluster.local',
    resolvConf: paths.resolvConf,
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    serializeImagePulls: false,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    // The node's namespace is its own: nothing else listens on these ('::' is both families).
    address: node.ips.some(isIPv6) ? '::' : '0.0.0.0',
    port: 10250,
  });
}

/** kubelet's command line: --node-ip names an address of each family (the Node's InternalIPs, primary first). */
export function kubeletArgs(node: NodePlan, paths: NodePaths): string[] {
  return [
    `--config=${paths.kubeletConfig}`,
    `--kubeconfig=${paths.kubeletKubeconfig}`,
    `--root-dir=${paths.kubeletRoot}`,
    `--cert-dir=${paths.kubeletRoot}/pki`,
    `--hostname-override=${node.name}`,
    `--node-ip=${node.ips.join(',')}`,
    '--v=1',
  ];
}

/** The upstream kube-proxy's configuration for one node (the reference column). */
export function kubeProxyConfig(plan: ClusterPlan, node: NodePlan, kubeconfig: string, mode: 'iptables' | 'nftables' = 'iptables'): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode,
    clientConnection: { kubeconfig },
    hostnameOverride: node.name,
    clusterCIDR: plan.clusterCIDRs.join(','),
    // nf_conntrack_max is global and read-only outside the host's namespace.
    conntrack: { maxPerCore: 0 },
    metricsBindAddress: '127.0.0.1:10249',
    healthzBindAddress: '0.0.0.0:10256',
  });
}

export interface KubeconfigInput {
  server: string;
  /** PEM text of the CA, the client certificate and key. */
  ca: string;
  cert: string;
  key: string;
  user: string;
}

export function kubeconfig(input: KubeconfigInput): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kpng-netns', cluster: { server: input.server, 'certificate-authority-data': b64(input.ca) } }],
    users: [{ name: input.user, user: { 'client-certificate-data': b64(input.cert), 'client-key-data': b64(input.key) } }],
    contexts: [{ name: 'kpng-netns', context: { cluster: 'kpng-netns', user: input.user } }],
    'current-context': 'kpng-netns',
  });
}

/** The control plane's flags that follow from the plan's families (the rest: control-plane-program.ts). */
export interface ControlPlaneFlags {
  /** kube-apiserver's, after the lab control plane's own (later flags win). */
  apiserver: string[];
  controllerManager: string[];
}

export function controlPlaneFlags(plan: ClusterPlan): ControlPlaneFlags {
  const v6 = plan.families.some((f) => f.family === 'ipv6');
  return {
    apiserver: [
      // Every address of the namespace ('::' takes both families), and the `kubernetes` Service's endpoint in the primary family.
      `--bind-address=${v6 ? '::' : '0.0.0.0'}`,
      `--advertise-address=${plan.controlPlane.ip}`,
      // Primary first: the family of a Service that does not ask for one, and of the `kubernetes` Service.
      `--service-cluster-ip-range=${plan.serviceCIDRs.join(',')}`,
    ],
    controllerManager: [
      `--service-cluster-ip-range=${plan.serviceCIDRs.join(',')}`,
      `--cluster-cidr=${plan.clusterCIDRs.join(',')}`,
      ...plan.families.map((f) => `--node-cidr-mask-size-${f.family}=${f.nodeCIDRMaskSize}`),
    ],
  };
}
