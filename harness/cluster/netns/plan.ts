// The netns cluster's names and addresses (pure). Everything a cluster makes carries its
// id (`kc` + 4 hex digits), so clusters side by side never meet and a leftover is known
// by name. Addresses exist only inside the cluster's own namespaces. The family decides
// which of the two columns a cluster has (dual: both, IPv4 first, as kind's dual clusters);
// the pod and Service CIDRs are kind's (harness/cluster/networks.ts).
//
//                                  IPv4                    IPv6 (ULA)
//   switch namespace   <id>-sw     bridge `sw0` 10.201.0.1/24  fd00:201::1/64; no uplink, forwards nothing
//   control plane      <id>-cp     eth0 10.201.0.2         fd00:201::2: etcd (its loopback),
//                                  kube-apiserver, kube-controller-manager, kube-scheduler
//   node N             <id>-node-N eth0 10.201.0.(10+N)    fd00:201::(10+N), hostname node-N (its
//                                  own UTS namespace), routes to the other nodes' pod CIDRs,
//                                  default routes into the switch
//                      pod CIDR    10.244.N.0/24           fd00:10:244:N::/64 (N in hex) on `cni0`
//   Services                       10.96.0.0/16            fd00:10:96::/112
//   cluster DNS                    10.96.0.10              fd00:10:96::a (the primary family's only)
//   veths              <id>c (control plane), <id>nN (node N) on the switch's bridge
//   cgroups            /kpng-<id>/node-N (kubelet's cgroupRoot), /kpng-<id>/node-N-runtime
//                      (containerd and its shims), /kpng-<id>/node-N-kubelet, /kpng-<id>/control-plane,
//                      in every cgroup v1 hierarchy; in the cgroup2 one (hybrid hosts: its mount
//                      /sys/fs/cgroup/unified) /kpng-<id>/node-N holds all of node N's processes
//                      (containerd, shims, kubelet, containers) and /kpng-<id>/control-plane the
//                      control plane's, so a backend hooking a cgroup's sockets keeps to one node
//   files              <dataDir>/<id>/, sockets <runDir>/<id>/ (short paths for unix sockets)
import { randomBytes } from 'node:crypto';
import { KpngError, ipFamilies, type IpFamily } from '../../config/index.ts';
import { clusterNetworks } from '../networks.ts';

export const MAX_NODES = 20;
export const ID_PATTERN = /^kc[0-9a-f]{4}$/;

export interface NodePlan {
  /** Node object and host name: node-1, node-2, ... */
  name: string;
  index: number;
  netns: string;
  /** The veth's name on the switch's bridge. */
  veth: string;
  /** The node's address on the switch per family, the primary family first (kubelet's --node-ip). */
  ips: string[];
  /** ips[0] */
  ip: string;
  /** The node's pod CIDR per family, the primary family first (the Node's spec.podCIDRs). */
  podCIDRs: string[];
  /** podCIDRs[0] */
  podCIDR: string;
  /** topology.kubernetes.io/zone */
  zone: string;
  /** kubelet's cgroupRoot. */
  cgroupRoot: string;
  /** containerd's own cgroup (its shims inherit it). */
  runtimeCgroup: string;
  kubeletCgroup: string;
  /** The node's cgroup in the cgroup2 hierarchy, named by the node (a backend's --cgroup-path with $(NODE_NAME)): every process of the node. */
  cgroup2: string;
}

export type AddressFamily = 'ipv4' | 'ipv6';

/** One address family's column of the plan. */
export interface FamilyPlan {
  family: AddressFamily;
  switchCIDR: string;
  prefixLength: number;
  /** The switch bridge's address: every member's default route of this family. */
  gateway: string;
  clusterCIDR: string;
  serviceCIDR: string;
  /** The prefix length of a node's pod CIDR of this family. */
  nodeCIDRMaskSize: number;
}

export interface ClusterPlan {
  id: string;
  family: IpFamily;
  /** The address families, the primary one first (dual: IPv4, IPv6). */
  families: FamilyPlan[];
  switchNetns: string;
  switchBridge: string;
  /** ips: per family, the primary first; ip: ips[0] (the apiserver's advertised address). */
  controlPlane: { netns: string; veth: string; ip: string; ips: string[] };
  nodes: NodePlan[];
  /** Per family, the primary first (kube-controller-manager's --cluster-cidr, kube-proxy's clusterCIDR). */
  clusterCIDRs: string[];
  /** Per family, the primary first (kube-apiserver's --service-cluster-ip-range). */
  serviceCIDRs: string[];
  /** The kube-dns Service's address, in the primary family (as kubeadm): every kubelet's clusterDNS. */
  clusterDNS: string;
  /** The top cgroup, in every v1 hierarchy and in the cgroup2 one. */
  cgroup: string;
  /** The control plane's cgroup (v1 and cgroup2). */
  controlPlaneCgroup: string;
}

const addressing = {
  ipv4: { switchCIDR: '10.201.0.0/24', prefixLength: 24, host: (n: number) => `10.201.0.${n}`, podCIDR: (index: number) => `10.244.${index}.0/24`, nodeCIDRMaskSize: 24, dns: '10.96.0.10' },
  // ULA, only inside the cluster's namespaces. Node N's pod CIDR: the N-th /64 of kind's /56.
  ipv6: { switchCIDR: 'fd00:201::/64', prefixLength: 64, host: (n: number) => `fd00:201::${n}`, podCIDR: (index: number) => `fd00:10:244:${index.toString(16)}::/64`, nodeCIDRMaskSize: 64, dns: 'fd00:10:96::a' },
} as const;

/** The address families of an IP family, the primary first. */
export function addressFamilies(family: IpFamily): AddressFamily[] {
  return family === 'dual' ? ['ipv4', 'ipv6'] : [family];
}

export function newClusterId(): string {
  return `kc${randomBytes(2).toString('hex')}`;
}


export function clusterPlan(id: string, nodeCount: number, family: IpFamily = 'ipv4'): ClusterPlan {
  if (!ID_PATTERN.test(id)) throw new KpngError('KPNG_ERR_NETNS_CLUSTER', `cluster id ${JSON.stringify(id)} is not kc followed by 4 hex digits`);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES) {
    throw new KpngError('KPNG_ERR_NETNS_CLUSTER', `${nodeCount} nodes: accepted 1 to ${MAX_NODES}`);
  }
  if (!(ipFamilies as readonly string[]).includes(family)) throw new KpngError('KPNG_ERR_NETNS_CLUSTER', `IP family ${JSON.stringify(family)}: accepted ${ipFamilies.join(', ')}`);
  const cgroup = `/kpng-${id}`;
  const afs = addressFamilies(family);
  const network = (af: AddressFamily) => clusterNetworks[af];
  const families = afs.map((af): FamilyPlan => ({
    family: af,
    switchCIDR: addressing[af].switchCIDR,
    prefixLength: addressing[af].prefixLength,
    gateway: addressing[af].host(1),
    clusterCIDR: network(af).podCIDRs[0]!,
    serviceCIDR: network(af).serviceCIDRs[0]!,
    nodeCIDRMaskSize: addressing[af].nodeCIDRMaskSize,
  }));
  const hosts = (n: number) => afs.map((af) => addressing[af].host(n));
  const nodes = Array.from({ length: nodeCount }, (_, i): NodePlan => {
    const index = i + 1;
    const name = `node-${index}`;
    const ips = hosts(10 + index);
    const podCIDRs = afs.map((af) => addressing[af].podCIDR(index));
    return {
      name,
      index,
      netns: `${id}-${name}`,
      veth: `${id}n${index}`,
      ips,
      ip: ips[0]!,
      podCIDRs,
      podCIDR: podCIDRs[0]!,
      // Two zones, alternating, so topology-aware specs see more than one.
      zone: `zone-${index % 2 === 1 ? 'a' : 'b'}`,
      cgroupRoot: `${cgroup}/${name}`,
      runtimeCgroup: `${cgroup}/${name}-runtime`,
      kubeletCgroup: `${cgroup}/${name}-kubelet`,
      cgroup2: `${cgroup}/${name}`,
    };
  });
  const controlPlaneIPs = hosts(2);
  return {
    id,
    family,
    families,
    switchNetns: `${id}-sw`,
    switchBridge: 'sw0',
    controlPlane: { netns: `${id}-cp`, veth: `${id}c`, ip: controlPlaneIPs[0]!, ips: controlPlaneIPs },
    nodes,
    clusterCIDRs: families.map((f) => f.clusterCIDR),
    serviceCIDRs: families.map((f) => f.serviceCIDR),
    clusterDNS: addressing[afs[0]!].dns,
    cgroup,
    controlPlaneCgroup: `${cgroup}/control-plane`,
  };
}

/** Whether an address is IPv6 (the plan's addresses and CIDRs are well formed). */
export function isIPv6(address: string): boolean {
  return address.includes(':');
}

/** Every namespace of the plan, switch first. */
export function planNamespaces(plan: ClusterPlan): string[] {
  return [plan.switchNetns, plan.controlPlane.netns, ...plan.nodes.map((n) => n.netns)];
}

/** Whether a network namespace name belongs to cluster `id`. */
export function ownsNamespace(id: string, netns: string): boolean {
  return netns.startsWith(`${id}-`);
}

/** The cgroup2 directory of every node, as a template on the node's name: `<mount>/kpng-<id>/$(NODE_NAME)`. */
export function nodeCgroup2Template(plan: ClusterPlan, cgroup2Mount: string, nodeName = '$(NODE_NAME)'): string {
  return `${cgroup2Mount}${plan.cgroup}/${nodeName}`;
}

/** A node's folder for a backend's kernel state below `under` (e.g. /sys/fs/bpf/kc12ab-node-1), as a template on the node's name. */
export function nodeStateTemplate(plan: ClusterPlan, under: string, nodeName = '$(NODE_NAME)'): string {
  if (!under.startsWith('/') || under === '/' || under.split('/').includes('..')) {
    throw new KpngError('KPNG_ERR_NETNS_CLUSTER', `a node's state folder goes below an absolute folder other than /, not ${JSON.stringify(under)}`);
  }
  return `${under.replace(/\/+$/, '')}/${plan.id}-${nodeName}`;
}

/** Whether a file name below a state root belongs to cluster `id` (its nodes' state folders). */
export function ownsStateEntry(id: string, name: string): boolean {
  return name.startsWith(`${id}-`);
}
