// The planner: what one IP family's IPVS dataplane holds for node-local state. Per service
// port, its virtual servers (each with its real servers), its ipset members, the addresses
// it binds to kube-ipvs0 and the load balancer IPs the node itself may not reach; summed
// over the service ports, a FamilyPlan. Laid out as kube-proxy's ipvs proxier lays it out
// (pkg/proxy/ipvs/proxier.go, syncProxyRules). The service ports are the node view's, in
// the family's map (FamilyServicePort: the port's frontends and endpoints of the family).
// Pure.
import { cidrContains, parseCIDR, parseIP, type FamilyServicePort, type FamilyView, type IPFamily, type LocalEndpoint, type NodeView } from '../../model/index.ts';
import { emptySets, ipPort, type SetMembers } from './ipset.ts';
import { realKey, vsKey, type RealServer, type VirtualServer } from './ipvsadm.ts';
import * as n from './names.ts';

export interface PlanOptions {
  family: IPFamily;
  /** --ipvs-scheduler (default rr). */
  scheduler?: string;
  /** The node's addresses of this family NodePorts answer on (never kube-ipvs0's, nor loopback). */
  nodePortIPs: readonly string[];
  /** Addresses already on another interface of the node: not bound to kube-ipvs0 again. */
  otherLocalAddresses?: readonly string[];
}

/** A load balancer IP the node itself may not reach (its source ranges leave the node out). */
export interface NoNodeAccess {
  ip: string;
  protocol: string;
  port: number;
}

export interface PortPlan {
  key: string;
  virtualServers: VirtualServer[];
  members: Array<[string, string]>;
  bind: string[];
  noNodeAccess: NoNodeAccess[];
}

const realsOf = (eps: readonly LocalEndpoint[]): Map<string, RealServer> => new Map(eps.map((e) => [realKey(e.address, e.port), { address: e.address, port: e.port, weight: 1 }]));

/**
 * One service port's part of the family's plan. `nodeIPs`: the node's IPs of the family (a
 * source range holding one lets the node reach the load balancer IP).
 */
export function planPort(v: FamilyServicePort, o: PlanOptions, nodeIPs: readonly string[]): PortPlan {
  const sp = v.sp;
  const family = o.family;
  const set = (d: n.SetDef) => n.setName(d, family);
  const proto = sp.protocol.toLowerCase();
  const scheduler = o.scheduler ?? 'rr';
  const other = new Set(o.otherLocalAddresses ?? []);
  const members: Array<[string, string]> = [];
  const bind: string[] = [];
  const virtualServers: VirtualServer[] = [];
  const noNodeAccess: NoNodeAccess[] = [];
  const externalLocal = sp.externalPolicyLocal && v.externallyAccessible;

  // Which endpoints each kind of traffic reaches. Internal: the traffic policy's (Local: this
  // node's only; none leaves the virtual server without real servers). External with
  // externalTrafficPolicy Local: this node's, or, when it has none, the cluster's, so that
  // pods and the node still reach the Service (kube-proxy's ipvs mode, kubernetes#97081).
  const internal = sp.internalPolicyLocal ? v.localEndpoints : v.clusterEndpoints;
  const external = externalLocal ? (v.localEndpoints.length > 0 ? v.localEndpoints : v.clusterEndpoints) : v.clusterEndpoints;

  const vs = (address: string, port: number, eps: readonly LocalEndpoint[]) =>
    virtualServers.push({
      protocol: sp.protocol,
      address,
      port,
      scheduler,
      ...(scheduler === 'mh' && { schedFlags: 'mh-port' }),
      ...(sp.affinityTimeoutSeconds !== undefined && { persistence: sp.affinityTimeoutSeconds }),
      reals: realsOf(eps),
    });

  // Hairpin: a local endpoint reaching itself through the Service is masqueraded.
  for (const e of v.allReachable) if (e.local) members.push([set(n.loopBackSet), `${e.address},${proto}:${e.port},${e.address}`]);

  members.push([set(n.clusterIPSet), ipPort(v.clusterIP, proto, sp.port)]);
  vs(v.clusterIP, sp.port, internal);
  bind.push(v.clusterIP);

  for (const ip of v.externalIPs) {
    members.push([set(externalLocal ? n.externalIPLocalSet : n.externalIPSet), ipPort(ip, proto, sp.port)]);
    vs(ip, sp.port, external);
    if (!other.has(ip)) bind.push(ip);
  }

  const node = nodeIPs.map((ip) => parseIP(ip)).filter((ip) => ip !== undefined);
  for (const ip of v.lbIPs) {
    const entry = ipPort(ip, proto, sp.port);
    members.push([set(n.loadBalancerSet), entry]);
    if (externalLocal) members.push([set(n.loadBalancerLocalSet), entry]);
    if (v.sourceRanges.length > 0) {
      members.push([set(n.loadBalancerFWSet), entry]);
      let allowFromNode = false;
      for (const cidr of v.sourceRanges) {
        members.push([set(n.loadBalancerSourceCIDRSet), `${entry},${cidr}`]);
        const c = parseCIDR(cidr);
        if (c && node.some((nip) => cidrContains(c, nip))) allowFromNode = true;
      }
      if (allowFromNode) members.push([set(n.loadBalancerSourceIPSet), `${entry},${ip}`]);
      else noNodeAccess.push({ ip, protocol: proto, port: sp.port });
    }
    vs(ip, sp.port, external);
    if (!other.has(ip)) bind.push(ip);
  }

  if (sp.nodePort !== 0 && o.nodePortIPs.length > 0) {
    const entries = sp.protocol === 'SCTP' ? o.nodePortIPs.map((ip) => ipPort(ip, proto, sp.nodePort)) : [String(sp.nodePort)];
    const [all, local] =
      sp.protocol === 'TCP' ? [n.nodePortSetTCP, n.nodePortLocalSetTCP] : sp.protocol === 'UDP' ? [n.nodePortSetUDP, n.nodePortLocalSetUDP] : [n.nodePortSetSCTP, n.nodePortLocalSetSCTP];
    for (const e of entries) members.push([set(all), e]);
    if (externalLocal) for (const e of entries) members.push([set(local), e]);
    for (const ip of o.nodePortIPs) vs(ip, sp.nodePort, external);
  }

  if (sp.healthCheckNodePort !== 0) members.push([set(n.healthCheckNodePortSet), String(sp.healthCheckNodePort)]);

  // No endpoint anywhere: every frontend of the port is rejected in the filter table.
  if (!v.hasEndpoints) {
    for (const ip of [v.clusterIP, ...v.externalIPs, ...v.lbIPs]) members.push([set(n.noEndpointsSet), ipPort(ip, proto, sp.port)]);
    if (sp.nodePort !== 0) for (const ip of o.nodePortIPs) members.push([set(n.noEndpointsSet), ipPort(ip, proto, sp.nodePort)]);
  }
  return { key: v.key, virtualServers, members, bind, noNodeAccess };
}

/** A family's whole plan. */
export interface FamilyPlan {
  family: IPFamily;
  /** By vsKey. */
  virtualServers: Map<string, VirtualServer>;
  sets: SetMembers;
  /** Addresses kube-ipvs0 holds (also the members of KUBE-IPVS-IPS). */
  bind: Set<string>;
  noNodeAccess: NoNodeAccess[];
  /** The virtual servers of each service port (by ServicePortState.key). */
  owners: Map<string, string[]>;
}

/**
 * Sums the service ports' plans, in key order. A virtual server two service ports both ask
 * for (the same external IP and port, say) goes to the first; the other is reported.
 */
export function sumPlans(family: IPFamily, ports: Iterable<PortPlan>): { plan: FamilyPlan; conflicts: Array<{ key: string; virtualServer: string }> } {
  const plan: FamilyPlan = { family, virtualServers: new Map(), sets: emptySets(family), bind: new Set(), noNodeAccess: [], owners: new Map() };
  const conflicts: Array<{ key: string; virtualServer: string }> = [];
  const sorted = [...ports].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const p of sorted) {
    const owned: string[] = [];
    for (const vs of p.virtualServers) {
      const k = vsKey(vs.protocol, vs.address, vs.port);
      if (plan.virtualServers.has(k)) {
        conflicts.push({ key: p.key, virtualServer: k });
        continue;
      }
      plan.virtualServers.set(k, vs);
      owned.push(k);
    }
    plan.owners.set(p.key, owned);
    for (const [s, m] of p.members) plan.sets.get(s)!.add(m);
    for (const a of p.bind) plan.bind.add(a);
    plan.noNodeAccess.push(...p.noNodeAccess);
  }
  const ipvsIPs = plan.sets.get(n.setName(n.ipvsSet, family))!;
  for (const a of plan.bind) ipvsIPs.add(a);
  return { plan, conflicts };
}

/** Every service port's plan, in the family map's order. */
export function planPorts(fv: FamilyView, o: PlanOptions): PortPlan[] {
  const ports: PortPlan[] = [];
  for (const fp of fv.servicePorts.values()) ports.push(planPort(fp, o, fv.nodeIPs));
  return ports;
}

/** Plans a family from scratch. */
export function planFamily(view: NodeView, o: PlanOptions): FamilyPlan {
  return sumPlans(o.family, planPorts(view.families[o.family], o)).plan;
}
