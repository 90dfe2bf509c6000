// The node's view as a dataplane backend consumes it: per IP family (kube-proxy runs one
// proxier per family), every service port with the frontends and endpoints of that family,
// and which endpoints each kind of traffic reaches. Computed once per local state and
// shared by every consumer (the backends, the sync runner's metrics, conntrack cleanup);
// a backend only maps it onto its kernel.
//
// Incremental like the local state: a ServicePortState that did not change is the same
// object in the next state, so its FamilyServicePorts (cached by that object) are the same
// objects too, and a view derived from the previous one recomputes only the ports that
// the model touched.
import { deepEqual } from './deep-equal.ts';
import { familyOfCIDR, familyOfIP, ipFamilies, parseIP, type IPFamily } from './ip.ts';
import { touchedSince } from './local-state.ts';
import type { LocalEndpoint, LocalNode, LocalState, ServicePortState } from './types.ts';

/** One service port as one IP family's dataplane sees it. */
export interface FamilyServicePort {
  /** The family of every address below. */
  readonly family: IPFamily;
  /** ServicePortState.key: "namespace/name:port" (no ":" part when the port is unnamed). */
  readonly key: string;
  /** The whole service port (protocol, ports, policies, affinity, names): family-independent fields are read here. */
  readonly sp: ServicePortState;
  /** The port's cluster IP of this family. */
  readonly clusterIP: string;
  /** Its external IPs of this family. */
  readonly externalIPs: readonly string[];
  /** Its load-balancer ingress IPs of this family. */
  readonly lbIPs: readonly string[];
  /** Its loadBalancerSourceRanges of this family. */
  readonly sourceRanges: readonly string[];
  /** The cluster-wide endpoints, for the Cluster traffic policy chain; empty when no traffic uses that policy. */
  readonly clusterEndpoints: readonly LocalEndpoint[];
  /** This node's endpoints, for the Local traffic policy chain (internal Local, else external Local); empty when neither policy is Local. */
  readonly localEndpoints: readonly LocalEndpoint[];
  /** kube-proxy's allLocallyReachableEndpoints: every endpoint some chain of this port reaches (cluster ones first, no duplicates). */
  readonly allReachable: readonly LocalEndpoint[];
  /** Some usable endpoint exists anywhere in the cluster (false: traffic is rejected; true with none for a policy: dropped). */
  readonly hasEndpoints: boolean;
  /** It has a NodePort (NodePorts have no family), or an external or load-balancer IP of this family. */
  readonly externallyAccessible: boolean;
  /** Some traffic uses the Cluster policy: internalTrafficPolicy Cluster, or externally accessible (pods and the node short-circuit to it). */
  readonly usesClusterEndpoints: boolean;
  /** Some traffic uses the Local policy: internalTrafficPolicy Local, or externally accessible with externalTrafficPolicy Local. */
  readonly usesLocalEndpoints: boolean;
  /** What traffic to the cluster IP reaches (internalTrafficPolicy applied); empty: dropped, or rejected when !hasEndpoints. */
  readonly internalTrafficEndpoints: readonly LocalEndpoint[];
  /** What NodePort, external-IP and load-balancer traffic reaches (externalTrafficPolicy applied); empty when not externally accessible. */
  readonly externalTrafficEndpoints: readonly LocalEndpoint[];
}

/** One family's service ports. */
export interface FamilyView {
  readonly family: IPFamily;
  /** The node's IPs of this family (NodeView.nodeIPs). */
  readonly nodeIPs: readonly string[];
  /** The service ports with a cluster IP of this family, by key (in no particular order). */
  readonly servicePorts: ReadonlyMap<string, FamilyServicePort>;
}

/** The node's view: what every backend is handed. */
export interface NodeView {
  /** The local state this view was computed from. */
  readonly state: LocalState;
  readonly node: LocalNode;
  /** The node's IPs per family from its Node object: its InternalIPs, else its ExternalIPs. */
  readonly nodeIPs: Readonly<Record<IPFamily, readonly string[]>>;
  readonly families: Readonly<Record<IPFamily, FamilyView>>;
}

/** What changed for one service port in one family. `service` and `endpoints` may both hold. */
export interface PortChange {
  /** New in this family (its first cluster IP of the family, or a new service port). `service` holds too. */
  readonly added: boolean;
  /** Gone from this family. `service` holds too. */
  readonly removed: boolean;
  /** Frontends, policies, ports, affinity, health check port or names changed (or added / removed). */
  readonly service: boolean;
  /** Its endpoints of this family changed (or, added / removed, it has some). */
  readonly endpoints: boolean;
}

export interface FamilyChanges {
  readonly family: IPFamily;
  /** The service ports that differ in this family, by key. */
  readonly ports: ReadonlyMap<string, PortChange>;
}

/** What differs between two views. */
export interface ViewChanges {
  /** The node's own record (zone, addresses, deletion) changed. */
  readonly node: boolean;
  readonly families: Readonly<Record<IPFamily, FamilyChanges>>;
  /** Keys that differ in some family. */
  readonly servicePorts: ReadonlySet<string>;
  /** Keys with a service change in some family (kube-proxy's service changes). */
  readonly services: ReadonlySet<string>;
  /** Keys with an endpoint change in some family (kube-proxy's endpoint changes). */
  readonly endpoints: ReadonlySet<string>;
}

function ofFamily(eps: readonly LocalEndpoint[], family: IPFamily): readonly LocalEndpoint[] {
  return eps.every((e) => e.family === family) ? eps : eps.filter((e) => e.family === family);
}

function ofFamilyIPs(ips: readonly string[], family: IPFamily): readonly string[] {
  return ips.every((ip) => familyOfIP(ip) === family) ? ips : ips.filter((ip) => familyOfIP(ip) === family);
}

/** The family's view of a service port; undefined when it has no cluster IP of that family. */
function familyServicePort(sp: ServicePortState, family: IPFamily): FamilyServicePort | undefined {
  const clusterIP = sp.clusterIPs.find((ip) => familyOfIP(ip) === family);
  if (clusterIP === undefined) return undefined;
  const externalIPs = ofFamilyIPs(sp.externalIPs, family);
  const lbIPs = ofFamilyIPs(sp.loadBalancerIPs, family);
  const externallyAccessible = sp.nodePort !== 0 || externalIPs.length > 0 || lbIPs.length > 0;
  const usesClusterEndpoints = !sp.internalPolicyLocal || externallyAccessible;
  const usesLocalEndpoints = sp.internalPolicyLocal || (externallyAccessible && sp.externalPolicyLocal);
  const clusterEndpoints = usesClusterEndpoints ? ofFamily(sp.clusterEndpoints, family) : [];
  const localEndpoints = sp.internalPolicyLocal ? ofFamily(sp.internalEndpoints, family) : sp.externalPolicyLocal ? ofFamily(sp.externalEndpoints, family) : [];
  let allReachable: readonly LocalEndpoint[];
  if (!usesLocalEndpoints) allReachable = clusterEndpoints;
  else if (!usesClusterEndpoints) allReachable = localEndpoints;
  else {
    const seen = new Set(clusterEndpoints.map((e) => `${e.address}#${e.port}`));
    allReachable = [...clusterEndpoints, ...localEndpoints.filter((e) => !seen.has(`${e.address}#${e.port}`))];
  }
  return {
    family,
    key: sp.key,
    sp,
    clusterIP,
    externalIPs,
    lbIPs,
    sourceRanges: sp.loadBalancerSourceRanges.every((c) => familyOfCIDR(c) === family) ? sp.loadBalancerSourceRanges : sp.loadBalancerSourceRanges.filter((c) => familyOfCIDR(c) === family),
    clusterEndpoints,
    localEndpoints,
    allReachable,
    hasEndpoints: sp.hasEndpoints[family] ?? false,
    externallyAccessible,
    usesClusterEndpoints,
    usesLocalEndpoints,
    internalTrafficEndpoints: ofFamily(sp.internalEndpoints, family),
    externalTrafficEndpoints: externallyAccessible ? ofFamily(sp.externalEndpoints, family) : [],
  };
}

type PerFamily = Readonly<Record<IPFamily, FamilyServicePort | undefined>>;

/** Per ServicePortState: its FamilyServicePorts (a state shared between local states shares them too). */
const portCache = new WeakMap<ServicePortState, PerFamily>();

function perFamily(sp: ServicePortState): PerFamily {
  let f = portCache.get(sp);
  if (!f) {
    f = { IPv4: familyServicePort(sp, 'IPv4'), IPv6: familyServicePort(sp, 'IPv6') };
    portCache.set(sp, f);
  }
  return f;
}

/** The node's IPs of a family from its Node object: InternalIPs, else ExternalIPs. */
export function nodeIPsOf(node: LocalNode, family: IPFamily): string[] {
  const of = (type: string) => node.addresses.filter((a) => a.type === type && parseIP(a.address)?.family === family).map((a) => a.address);
  const internal = of('InternalIP');
  return internal.length > 0 ? internal : of('ExternalIP');
}

const viewCache = new WeakMap<LocalState, NodeView>();
/** The latest view built: the next state usually derives from its state. */
let lastBuilt: WeakRef<NodeView> | undefined;

function nodeIPsRecord(node: LocalNode, prev: NodeView | undefined): Readonly<Record<IPFamily, readonly string[]>> {
  if (prev && prev.node === node) return prev.nodeIPs;
  return { IPv4: nodeIPsOf(node, 'IPv4'), IPv6: nodeIPsOf(node, 'IPv6') };
}

/**
 * The view of a local state: computed once per state (the same object for the same
 * state), in O(changes) when the state was derived from the last one viewed.
 */
export function nodeView(state: LocalState): NodeView {
  const cached = viewCache.get(state);
  if (cached) return cached;
  const base = lastBuilt?.deref();
  const touched = base && touchedSince(base.state, state);
  const nodeIPs = nodeIPsRecord(state.node, base);
  const maps = {} as Record<IPFamily, Map<string, FamilyServicePort>>;
  if (base && base.state.servicePorts === state.servicePorts) {
    // Only the node changed: the same service ports.
    for (const f of ipFamilies) maps[f] = base.families[f].servicePorts as Map<string, FamilyServicePort>;
  } else if (base && touched) {
    for (const f of ipFamilies) maps[f] = new Map(base.families[f].servicePorts);
    for (const key of touched ?? []) {
      const sp = state.servicePorts.get(key);
      const per = sp && perFamily(sp);
      for (const f of ipFamilies) {
        const fsp = per?.[f];
        if (fsp) maps[f].set(key, fsp);
        else maps[f].delete(key);
      }
    }
  } else {
    for (const f of ipFamilies) maps[f] = new Map();
    for (const [key, sp] of state.servicePorts) {
      const per = perFamily(sp);
      for (const f of ipFamilies) {
        const fsp = per[f];
        if (fsp) maps[f].set(key, fsp);
      }
    }
  }
  const view: NodeView = {
    state,
    node: state.node,
    nodeIPs,
    families: {
      IPv4: { family: 'IPv4', nodeIPs: nodeIPs.IPv4, servicePorts: maps.IPv4 },
      IPv6: { family: 'IPv6', nodeIPs: nodeIPs.IPv6, servicePorts: maps.IPv6 },
    },
  };
  viewCache.set(state, view);
  lastBuilt = new WeakRef(view);
  return view;
}

const endpointFields = new Set<string>(['internalEndpoints', 'externalEndpoints', 'clusterEndpoints', 'hasEndpoints']);
const addressFields = new Set<string>(['clusterIPs', 'externalIPs', 'loadBalancerIPs', 'loadBalancerSourceRanges']);

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a === b || deepEqual(a, b);
}

/** Whether anything but endpoints and other families' addresses differs. */
function serviceDiffers(a: FamilyServicePort, b: FamilyServicePort): boolean {
  if (a.clusterIP !== b.clusterIP || !sameList(a.externalIPs, b.externalIPs) || !sameList(a.lbIPs, b.lbIPs) || !sameList(a.sourceRanges, b.sourceRanges)) return true;
  const x = a.sp as unknown as Record<string, unknown>;
  const y = b.sp as unknown as Record<string, unknown>;
  for (const field of new Set([...Object.keys(x), ...Object.keys(y)])) {
    if (endpointFields.has(field) || addressFields.has(field)) continue;
    if (!deepEqual(x[field], y[field])) return true;
  }
  return false;
}

function endpointsDiffer(a: FamilyServicePort, b: FamilyServicePort): boolean {
  const f = a.family;
  if (a.hasEndpoints !== b.hasEndpoints) return true;
  for (const field of ['internalEndpoints', 'externalEndpoints', 'clusterEndpoints'] as const) {
    if (!sameList(ofFamily(a.sp[field], f), ofFamily(b.sp[field], f))) return true;
  }
  return false;
}

/** Whether any endpoint list of the port holds an endpoint of its family. */
function hasAnyEndpoint(p: FamilyServicePort): boolean {
  return ofFamily(p.sp.internalEndpoints, p.family).length > 0 || ofFamily(p.sp.externalEndpoints, p.family).length > 0 || ofFamily(p.sp.clusterEndpoints, p.family).length > 0;
}

/** How one service port differs in one family; undefined when it does not. */
export function portChange(a: FamilyServicePort | undefined, b: FamilyServicePort | undefined): PortChange | undefined {
  if (a === b) return undefined;
  if (!a || !b) return { added: !a, removed: !b, service: true, endpoints: hasAnyEndpoint((a ?? b)!) };
  const service = serviceDiffers(a, b);
  const endpoints = endpointsDiffer(a, b);
  return service || endpoints ? { added: false, removed: false, service, endpoints } : undefined;
}

/**
 * What differs from `prev` to `next` (no prev: everything in next is added). `candidates`
 * are the keys that may differ (a LocalChanges' servicePorts, or the union of several);
 * without them, the keys the model touched between the two states, else every key.
 */
export function viewChanges(prev: NodeView | undefined, next: NodeView, candidates?: Iterable<string>): ViewChanges {
  let keys: Iterable<string>;
  if (!prev) keys = next.state.servicePorts.keys();
  else if (candidates) keys = candidates;
  else if (prev.state.servicePorts === next.state.servicePorts) keys = [];
  else keys = touchedSince(prev.state, next.state) ?? new Set([...prev.state.servicePorts.keys(), ...next.state.servicePorts.keys()]);
  const ports = { IPv4: new Map<string, PortChange>(), IPv6: new Map<string, PortChange>() };
  const servicePorts = new Set<string>();
  const services = new Set<string>();
  const endpoints = new Set<string>();
  for (const key of keys) {
    for (const f of ipFamilies) {
      const c = portChange(prev?.families[f].servicePorts.get(key), next.families[f].servicePorts.get(key));
      if (!c) continue;
      ports[f].set(key, c);
      servicePorts.add(key);
      if (c.service) services.add(key);
      if (c.endpoints) endpoints.add(key);
    }
  }
  return {
    node: !prev || (prev.node !== next.node && !deepEqual(prev.node, next.node)),
    families: { IPv4: { family: 'IPv4', ports: ports.IPv4 }, IPv6: { family: 'IPv6', ports: ports.IPv6 } },
    servicePorts,
    services,
    endpoints,
  };
}

/** A change set with nothing in it. */
export function noChanges(): ViewChanges {
  return {
    node: false,
    families: { IPv4: { family: 'IPv4', ports: new Map() }, IPv6: { family: 'IPv6', ports: new Map() } },
    servicePorts: new Set(),
    services: new Set(),
    endpoints: new Set(),
  };
}

/** `view` with only the service ports of `keys` (a backend leaving some out, or bisecting a refusal). Not cached. */
export function viewWithPorts(view: NodeView, keys: Iterable<string>): NodeView {
  const ports = new Map<string, ServicePortState>();
  for (const key of keys) {
    const sp = view.state.servicePorts.get(key);
    if (sp) ports.set(key, sp);
  }
  const family = (f: IPFamily): FamilyView => {
    const all = view.families[f];
    const kept = new Map<string, FamilyServicePort>();
    for (const key of ports.keys()) {
      const fsp = all.servicePorts.get(key);
      if (fsp) kept.set(key, fsp);
    }
    return { family: f, nodeIPs: all.nodeIPs, servicePorts: kept };
  };
  return { state: { node: view.node, servicePorts: ports }, node: view.node, nodeIPs: view.nodeIPs, families: { IPv4: family('IPv4'), IPv6: family('IPv6') } };
}
