// The netns cluster's names and addresses (pure). Everything a cluster makes carries its
// id (`kc` + 4 hex digits), so clusters side by side never meet and a leftover is known
// by name. Addresses exist only inside the cluster's own namespaces.
//
//   switch namespace   <id>-sw     bridge `sw0` 10.201.0.1/24, no uplink, forwards nothing
//   control plane      <id>-cp     eth0 10.201.0.2: etcd (its loopback), kube-apiserver,
//                                  kube-controller-manager, kube-scheduler
//   node N             <id>-node-N eth0 10.201.0.(10+N), hostname node-N (its own UTS
//                                  namespace), pod CIDR 10.244.N.0/24 on `cni0`, routes to
//                                  the other nodes' pod CIDRs, default route into the switch
//   veths              <id>c (control plane), <id>nN (node N) on the switch's bridge
//   cgroups            /kpng-<id>/node-N (kubelet's cgroupRoot), /kpng-<id>/node-N-runtime
//                      (containerd and its shims), /kpng-<id>/node-N-kubelet, /kpng-<id>/control-plane,
//                      in every cgroup v1 hierarchy; in the cgroup2 one (hybrid hosts: its mount
//                      /sys/fs/cgroup/unified) /kpng-<id>/node-N holds all of node N's processes
//                      (containerd, shims, kubelet, containers) and /kpng-<id>/control-plane the
//                      control plane's, so a backend hooking a cgroup's sockets keeps to one node
//   files              <dataDir>/<id>/, sockets <runDir>/<id>/ (short paths for unix sockets)
import { randomBytes } from 'node:crypto';
import { KpngError } from '../../config/index.ts';

export const MAX_NODES = 20;
export const ID_PATTERN = /^kc[0-9a-f]{4}$/;

export interface NodePlan {
  /** Node object and host name: node-1, node-2, ... */
  name: string;
  index: number;
  netns: string;
  /** The veth's name on the switch's bridge. */
  veth: string;
  ip: string;
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

export interface ClusterPlan {
  id: string;
  family: 'ipv4';
  switchNetns: string;
  switchBridge: string;
  switchCIDR: string;
  gateway: string;
  controlPlane: { netns: string; veth: string; ip: string };
  nodes: NodePlan[];
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDNS: string;
  /** The top cgroup, in every v1 hierarchy and in the cgroup2 one. */
  cgroup: string;
  /** The control plane's cgroup (v1 and cgroup2). */
  controlPlaneCgroup: string;
  prefixLength: number;
}

export function newClusterId(): string {
  return `kc${randomBytes(2).toString('hex')}`;
}


export function clusterPlan(id: string, nodeCount: number): ClusterPlan {
  if (!ID_PATTERN.test(id)) throw new KpngError('KPNG_ERR_NETNS_CLUSTER', `cluster id ${JSON.stringify(id)} is not kc followed by 4 hex digits`);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES) {
    throw new KpngError('KPNG_ERR_NETNS_CLUSTER', `${nodeCount} nodes: accepted 1 to ${MAX_NODES}`);
  }
  const cgroup = `/kpng-${id}`;
  const nodes = Array.from({ length: nodeCount }, (_, i): NodePlan => {
    const index = i + 1;
    const name = `node-${index}`;
    return {
      name,
      index,
      netns: `${id}-${name}`,
      veth: `${id}n${index}`,
      ip: `10.201.0.${10 + index}`,
      podCIDR: `10.244.${index}.0/24`,
      // Two zones, alternating, so topology-aware specs see more than one.
      zone: `zone-${index % 2 === 1 ? 'a' : 'b'}`,
      cgroupRoot: `${cgroup}/${name}`,
      runtimeCgroup: `${cgroup}/${name}-runtime`,
      kubeletCgroup: `${cgroup}/${name}-kubelet`,
      cgroup2: `${cgroup}/${name}`,
    };
  });
  return {
    id,
    family: 'ipv4',
    switchNetns: `${id}-sw`,
    switchBridge: 'sw0',
    switchCIDR: '10.201.0.0/24',
    gateway: '10.201.0.1',
    controlPlane: { netns: `${id}-cp`, veth: `${id}c`, ip: '10.201.0.2' },
    nodes,
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: '10.96.0.0/16',
    clusterDNS: '10.96.0.10',
    cgroup,
    controlPlaneCgroup: `${cgroup}/control-plane`,
    prefixLength: 24,
  };
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
