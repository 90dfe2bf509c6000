// Which endpoints a node may use for a service port (kube-proxy's CategorizeEndpoints,
// pkg/proxy/topology.go), for one IP family at a time. Pure.
import type { LocalEndpoint } from './types.ts';

/** An endpoint with the topology hints it was published with (the endpoint object itself goes into the lists). */
export interface CandidateEndpoint {
  endpoint: LocalEndpoint;
  zoneHints: readonly string[];
  nodeHints: readonly string[];
}

export interface PortPolicy {
  internalPolicyLocal: boolean;
  externalPolicyLocal: boolean;
  /** Has a NodePort, an ExternalIP or a LoadBalancer IP. */
  externallyAccessible: boolean;
}

export interface NodeTopology {
  name: string;
  zone?: string;
}

export interface Categorized {
  /** Cluster-wide endpoints (empty when the port never uses them). */
  cluster: LocalEndpoint[];
  /** Endpoints on this node (empty when the port never uses them). */
  local: LocalEndpoint[];
  /** Whether any usable endpoint exists anywhere. */
  hasAny: boolean;
}

/** Traffic that is not policy-local uses cluster-wide endpoints; external traffic always may (short circuit). */
export function usesClusterEndpoints(p: PortPolicy): boolean {
  return !p.internalPolicyLocal || p.externallyAccessible;
}

export function usesLocalEndpoints(p: PortPolicy): boolean {
  return p.internalPolicyLocal || (p.externallyAccessible && p.externalPolicyLocal);
}

type TopologyMode = 'PreferSameNode' | 'PreferSameZone' | undefined;

/**
 * Hints are all-or-nothing: used only if every ready endpoint has them and at least one
 * names this node (node hints) or this node's zone (zone hints, which need a zone label).
 */
export function topologyMode(endpoints: readonly CandidateEndpoint[], node: NodeTopology): TopologyMode {
  let allNode = true;
  let forNode = false;
  let allZone = true;
  let forZone = false;
  let anyReady = false;
  for (const ep of endpoints) {
    if (!ep.endpoint.ready) continue;
    anyReady = true;
    if (ep.nodeHints.length === 0) allNode = false;
    else if (ep.nodeHints.includes(node.name)) forNode = true;
    if (ep.zoneHints.length === 0) allZone = false;
    else if (node.zone !== undefined && ep.zoneHints.includes(node.zone)) forZone = true;
  }
  if (!anyReady) return undefined;
  if (allNode && forNode) return 'PreferSameNode';
  if (allZone && forZone) return 'PreferSameZone';
  return undefined;
}

const endpointOf = (c: CandidateEndpoint): LocalEndpoint => c.endpoint;

export function categorizeEndpoints(endpoints: readonly CandidateEndpoint[], policy: PortPolicy, node: NodeTopology): Categorized {
  let cluster: LocalEndpoint[] = [];
  let local: LocalEndpoint[] = [];
  let hasAny = false;

  if (usesClusterEndpoints(policy)) {
    const mode = topologyMode(endpoints, node);
    const inTopology = (ep: CandidateEndpoint) =>
      mode === undefined ||
      (mode === 'PreferSameNode' ? ep.nodeHints.includes(node.name) : node.zone !== undefined && ep.zoneHints.includes(node.zone));
    cluster = endpoints.filter((c) => c.endpoint.ready && inTopology(c)).map(endpointOf);
    // No ready endpoint: fall back to serving and terminating ones, ignoring topology.
    if (cluster.length === 0) cluster = endpoints.filter(({ endpoint: ep }) => ep.serving && ep.terminating).map(endpointOf);
    if (cluster.length > 0) hasAny = true;
  }

  if (!usesLocalEndpoints(policy)) return { cluster, local, hasAny };

  let localReady = false;
  let localTerminating = false;
  for (const { endpoint: ep } of endpoints) {
    if (ep.ready) {
      hasAny = true;
      if (ep.local) localReady = true;
    } else if (ep.serving && ep.terminating) {
      hasAny = true;
      if (ep.local) localTerminating = true;
    }
  }
  if (localReady) local = endpoints.filter(({ endpoint: ep }) => ep.local && ep.ready).map(endpointOf);
  else if (localTerminating) local = endpoints.filter(({ endpoint: ep }) => ep.local && ep.serving && ep.terminating).map(endpointOf);
  return { cluster, local, hasAny };
}
