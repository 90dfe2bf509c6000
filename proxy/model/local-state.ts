// One node's view: for every service port the frontends it answers on and the endpoints
// it may send traffic to. Pure functions of the cluster state and the node's name.
import type { ClusterDelta, ClusterState } from './cluster-state.ts';
import { categorizeEndpoints, type CandidateEndpoint, type PortPolicy } from './endpoints.ts';
import { ipPort, nodePortId, type FrontendClaims } from './frontends.ts';
import { compareIPs, familyOfIP } from './ip.ts';
import {
  labelHeadless,
  labelServiceProxyName,
  type IPFamily,
  type LocalEndpoint,
  type LocalNode,
  type LocalState,
  type ModelOptions,
  type ServiceInfo,
  type ServicePortSpec,
  type ServicePortState,
  type SliceInfo,
} from './types.ts';

/** kube-proxy's ServicePortName string: "ns/name:port", or "ns/name" for an unnamed port. */
export function servicePortKey(serviceKey: string, portName: string): string {
  return portName === '' ? serviceKey : `${serviceKey}:${portName}`;
}

/** Whether this proxy handles the Service at all. */
export function serviceCounts(svc: ServiceInfo, opts: Pick<ModelOptions, 'serviceProxyName'>): boolean {
  if (svc.type === 'ExternalName' || svc.headless) return false;
  if (labelHeadless in svc.labels) return false;
  const proxyName = svc.labels[labelServiceProxyName];
  return opts.serviceProxyName ? proxyName === opts.serviceProxyName : proxyName === undefined;
}

function byAddressThenPort({ endpoint: a }: CandidateEndpoint, { endpoint: b }: CandidateEndpoint): number {
  return compareIPs(a.address, b.address) || a.port - b.port;
}

/** The endpoints of one service port from all of the Service's slices, deduplicated by family, address and port. */
function candidates(port: ServicePortSpec, slices: ReadonlyMap<string, SliceInfo> | undefined, nodeName: string): CandidateEndpoint[] {
  if (!slices) return [];
  const byId = new Map<string, CandidateEndpoint>();
  const ordered = [...slices.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const slice of ordered) {
    // Ports are resolved per slice by the service port's name: named targetPorts may differ per pod.
    const sp = slice.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
    if (!sp) continue;
    for (const e of slice.endpoints) {
      const id = `${e.address}#${sp.port}`;
      const existing = byId.get(id);
      if (existing && (existing.endpoint.ready || !e.ready)) continue; // a ready duplicate wins
      // Optional fields set one by one, not spread: this runs once per endpoint of the cluster.
      const endpoint: LocalEndpoint = {
        address: e.address,
        family: slice.addressType,
        port: sp.port,
        local: e.nodeName === nodeName,
        ready: e.ready,
        serving: e.serving,
        terminating: e.terminating,
      };
      if (e.nodeName !== undefined) endpoint.nodeName = e.nodeName;
      if (e.zone !== undefined) endpoint.zone = e.zone;
      if (e.hostname !== undefined) endpoint.hostname = e.hostname;
      if (e.targetRef !== undefined) endpoint.targetRef = e.targetRef;
      byId.set(id, { endpoint, zoneHints: e.zoneHints, nodeHints: e.nodeHints });
    }
  }
  return [...byId.values()].sort(byAddressThenPort);
}

const families: readonly IPFamily[] = ['IPv4', 'IPv6'];

/** Addresses or CIDRs of the families the cluster IPs serve (kube-proxy drops the others). */
function servedOnly(list: string[], clusterIPs: string[]): string[] {
  if (list.length === 0) return list;
  // Validated by the model: the colon tells the family, of an address or a CIDR alike.
  const served = new Set(clusterIPs.map(familyOfIP));
  const kept = list.filter((x) => served.has(familyOfIP(x)));
  return kept.length === list.length ? list : kept;
}

function servicePortState(svc: ServiceInfo, port: ServicePortSpec, slices: ReadonlyMap<string, SliceInfo> | undefined, node: LocalNode): ServicePortState {
  const externallyAccessible = port.nodePort !== 0 || svc.externalIPs.length > 0 || svc.loadBalancerIPs.length > 0;
  const policy: PortPolicy = {
    internalPolicyLocal: svc.internalTrafficPolicy === 'Local',
    externalPolicyLocal: externallyAccessible && svc.externalTrafficPolicy === 'Local',
    externallyAccessible,
  };
  const all = candidates(port, slices, node.name);
  const internalEndpoints: LocalEndpoint[] = [];
  const externalEndpoints: LocalEndpoint[] = [];
  const clusterEndpoints: LocalEndpoint[] = [];
  const hasEndpoints: Partial<Record<IPFamily, boolean>> = {};
  // kube-proxy runs one proxier per family: categorize each family on its own.
  for (const family of families) {
    // A family is served when the Service has a cluster IP of it; the rest is ignored.
    if (!svc.clusterIPs.some((ip) => familyOfIP(ip) === family)) continue;
    const eps = all.filter((c) => c.endpoint.family === family);
    const c = categorizeEndpoints(eps, policy, node.zone === undefined ? { name: node.name } : { name: node.name, zone: node.zone });
    internalEndpoints.push(...(policy.internalPolicyLocal ? c.local : c.cluster));
    if (externallyAccessible) externalEndpoints.push(...(policy.externalPolicyLocal ? c.local : c.cluster));
    clusterEndpoints.push(...c.cluster);
    hasEndpoints[family] = c.hasAny;
  }
  return {
    key: servicePortKey(svc.key, port.name),
    serviceKey: svc.key,
    namespace: svc.namespace,
    name: svc.name,
    portName: port.name,
    protocol: port.protocol,
    port: port.port,
    nodePort: port.nodePort,
    clusterIPs: svc.clusterIPs,
    externalIPs: servedOnly(svc.externalIPs, svc.clusterIPs),
    loadBalancerIPs: servedOnly(svc.loadBalancerIPs, svc.clusterIPs),
    loadBalancerSourceRanges: servedOnly(svc.loadBalancerSourceRanges, svc.clusterIPs),
    ...(svc.affinityTimeoutSeconds !== undefined && { affinityTimeoutSeconds: svc.affinityTimeoutSeconds }),
    internalPolicyLocal: policy.internalPolicyLocal,
    externalPolicyLocal: policy.externalPolicyLocal,
    healthCheckNodePort: policy.externalPolicyLocal ? svc.healthCheckNodePort : 0,
    internalEndpoints,
    externalEndpoints,
    clusterEndpoints,
    hasEndpoints,
  };
}

/**
 * The Service as one of its ports may use it, without the frontends another Service owns
 * (frontends.ts): an external or load-balancer IP is left out, a NodePort becomes none;
 * undefined when one of its cluster IPs is lost (the whole port is left out then).
 */
function withoutLostFrontends(svc: ServiceInfo, port: ServicePortSpec, claims: FrontendClaims): { svc: ServiceInfo; port: ServicePortSpec } | undefined {
  const lost = (ip: string) => claims.lost(svc.key, ipPort(ip, port.port, port.protocol));
  if (svc.clusterIPs.some(lost)) return undefined;
  const externalIPs = svc.externalIPs.filter((ip) => !lost(ip));
  const loadBalancerIPs = svc.loadBalancerIPs.filter((ip) => !lost(ip));
  const nodePortLost = port.nodePort !== 0 && claims.lost(svc.key, nodePortId(port.nodePort, port.protocol));
  if (externalIPs.length === svc.externalIPs.length && loadBalancerIPs.length === svc.loadBalancerIPs.length && !nodePortLost) return { svc, port };
  return { svc: { ...svc, externalIPs, loadBalancerIPs }, port: nodePortLost ? { ...port, nodePort: 0 } : port };
}

/**
 * The service ports of one Service on this node ([] when the proxy ignores it). With the
 * cluster's frontend claims, what another Service owns is left out.
 */
export function servicePortsOf(
  svc: ServiceInfo,
  slices: ReadonlyMap<string, SliceInfo> | undefined,
  node: LocalNode,
  opts: ModelOptions,
  claims?: FrontendClaims,
): ServicePortState[] {
  if (!serviceCounts(svc, opts)) return [];
  if (!claims?.losesAny(svc.key)) return svc.ports.map((port) => servicePortState(svc, port, slices, node));
  return svc.ports.flatMap((port) => {
    const kept = withoutLostFrontends(svc, port, claims);
    return kept ? [servicePortState(kept.svc, kept.port, slices, node)] : [];
  });
}

export function localNodeOf(cluster: ClusterState, nodeName: string): LocalNode {
  const n = cluster.nodes.get(nodeName);
  if (!n) return { name: nodeName, labels: {}, addresses: [], known: false, deleting: false, toBeDeleted: false };
  return {
    name: n.name,
    ...(n.zone !== undefined && { zone: n.zone }),
    labels: n.labels,
    addresses: n.addresses,
    known: true,
    deleting: n.deleting,
    toBeDeleted: n.toBeDeleted,
  };
}

/** The model options of one node of this cluster: the source's --service-proxy-name travels with the state. */
export function nodeModelOptions(cluster: ClusterState, nodeName: string): ModelOptions {
  return { nodeName, ...(cluster.serviceProxyName && { serviceProxyName: cluster.serviceProxyName }) };
}

/** A node's state after a cluster update: derived from prev when there is one, else from scratch. */
export function nextLocalState(prev: LocalState | undefined, cluster: ClusterState, delta: ClusterDelta, nodeName: string): LocalState {
  const opts = nodeModelOptions(cluster, nodeName);
  return prev ? updateLocalState(prev, cluster, delta, opts) : computeLocalState(cluster, opts);
}

/** Services index of a local state: which port keys each Service contributed. */
const portIndex = new WeakMap<LocalState, ReadonlyMap<string, readonly string[]>>();

/** A number for each state made here, so that a state can name the one it came from without holding it. */
const stateIds = new WeakMap<LocalState, number>();
let lastStateId = 0;

/**
 * For a state made by updateLocalState: the id of the state it came from and the port keys
 * it may have changed. Never the state itself: a WeakMap value is kept as long as its key,
 * so each state would keep its parent, and the latest state every state ever made.
 */
const lineage = new WeakMap<LocalState, { from: number; touched: ReadonlySet<string> }>();

/** The port keys that can differ between prev and next, when next was derived from prev; else undefined. */
export function touchedSince(prev: LocalState, next: LocalState): ReadonlySet<string> | undefined {
  const l = lineage.get(next);
  return l && l.from === stateIds.get(prev) ? l.touched : undefined;
}

function indexPorts(ports: ReadonlyMap<string, ServicePortState>): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const sp of ports.values()) {
    const list = index.get(sp.serviceKey);
    if (list) list.push(sp.key);
    else index.set(sp.serviceKey, [sp.key]);
  }
  return index;
}

function freeze(node: LocalNode, servicePorts: ReadonlyMap<string, ServicePortState>, index: ReadonlyMap<string, readonly string[]>): LocalState {
  const state: LocalState = { node, servicePorts };
  portIndex.set(state, index);
  stateIds.set(state, ++lastStateId);
  return state;
}

/** The local state from scratch. */
export function computeLocalState(cluster: ClusterState, opts: ModelOptions): LocalState {
  const node = localNodeOf(cluster, opts.nodeName);
  const ports = new Map<string, ServicePortState>();
  const index = new Map<string, string[]>();
  for (const svc of cluster.services.values()) {
    const sps = servicePortsOf(svc, cluster.slicesByService.get(svc.key), node, opts, cluster.frontends);
    if (sps.length === 0) continue;
    for (const sp of sps) ports.set(sp.key, sp);
    index.set(svc.key, sps.map((sp) => sp.key));
  }
  return freeze(node, ports, index);
}

function sameZone(a: LocalNode, b: LocalNode): boolean {
  return a.zone === b.zone && a.known === b.known;
}

/**
 * The local state after a cluster update, recomputing only the Services the delta names
 * (all of them when this node's zone changed). Unchanged entries are shared with prev.
 */
export function updateLocalState(prev: LocalState, cluster: ClusterState, delta: ClusterDelta, opts: ModelOptions): LocalState {
  let node = prev.node;
  if (delta.nodes.has(opts.nodeName)) {
    const next = localNodeOf(cluster, opts.nodeName);
    if (!sameZone(prev.node, next)) return computeLocalState(cluster, opts);
    node = next;
  }
  if (delta.services.size === 0) return node === prev.node ? prev : freeze(node, prev.servicePorts, indexOf(prev));
  const ports = new Map(prev.servicePorts);
  const index = new Map(indexOf(prev));
  const touched = new Set<string>();
  for (const serviceKey of delta.services) {
    for (const key of index.get(serviceKey) ?? []) {
      ports.delete(key);
      touched.add(key);
    }
    index.delete(serviceKey);
    const svc = cluster.services.get(serviceKey);
    if (!svc) continue;
    const sps = servicePortsOf(svc, cluster.slicesByService.get(serviceKey), node, opts, cluster.frontends);
    if (sps.length === 0) continue;
    for (const sp of sps) {
      ports.set(sp.key, sp);
      touched.add(sp.key);
    }
    index.set(serviceKey, sps.map((sp) => sp.key));
  }
  const next = freeze(node, ports, index);
  const from = stateIds.get(prev);
  if (from !== undefined) lineage.set(next, { from, touched });
  return next;
}

function indexOf(state: LocalState): ReadonlyMap<string, readonly string[]> {
  let index = portIndex.get(state);
  if (!index) {
    index = indexPorts(state.servicePorts);
    portIndex.set(state, index);
  }
  return index;
}

/** Service ports sorted by key: the order renderers and dumps use. */
export function sortedServicePorts(state: LocalState): ServicePortState[] {
  return [...state.servicePorts.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
