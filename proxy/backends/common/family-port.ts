// A service port as one IP family's rules see it (kube-proxy runs one proxier per family):
// its frontends of that family, and which endpoints each traffic policy reaches. Both the
// iptables and the nftables renderers lay their rules out from this view.
import { parseIP, type IPFamily, type LocalEndpoint, type LocalState, type ServicePortState } from '../../model/index.ts';

export const familyOfIP = (ip: string): IPFamily => (ip.includes(':') ? 'IPv6' : 'IPv4');
export const familyOfCIDR = (cidr: string): IPFamily => familyOfIP(cidr.split('/')[0]!);

export interface FamilyPort {
  sp: ServicePortState;
  clusterIP: string;
  externalIPs: string[];
  lbIPs: string[];
  sourceRanges: string[];
  /** Endpoints for Cluster traffic policy (empty when no frontend uses them). */
  clusterEndpoints: LocalEndpoint[];
  /** Endpoints for Local traffic policy (this node's). */
  localEndpoints: LocalEndpoint[];
  /** kube-proxy's allLocallyReachableEndpoints: every endpoint some chain of this port reaches. */
  allReachable: LocalEndpoint[];
  /** Some usable endpoint exists anywhere (false: REJECT). */
  hasEndpoints: boolean;
  externallyAccessible: boolean;
  usesClusterEndpoints: boolean;
  usesLocalEndpoints: boolean;
}

/** The family's view of a service port; undefined when it has no cluster IP of that family. */
export function familyPort(sp: ServicePortState, family: IPFamily): FamilyPort | undefined {
  const clusterIP = sp.clusterIPs.find((ip) => familyOfIP(ip) === family);
  if (clusterIP === undefined) return undefined;
  const ofFamily = (eps: LocalEndpoint[]) => (eps.every((e) => e.family === family) ? eps : eps.filter((e) => e.family === family));
  const externalIPs = sp.externalIPs.filter((ip) => familyOfIP(ip) === family);
  const lbIPs = sp.loadBalancerIPs.filter((ip) => familyOfIP(ip) === family);
  const externallyAccessible = sp.nodePort !== 0 || externalIPs.length > 0 || lbIPs.length > 0;
  const usesClusterEndpoints = !sp.internalPolicyLocal || externallyAccessible;
  const usesLocalEndpoints = sp.internalPolicyLocal || (externallyAccessible && sp.externalPolicyLocal);
  const clusterEndpoints = usesClusterEndpoints ? ofFamily(sp.clusterEndpoints) : [];
  const localEndpoints = sp.internalPolicyLocal ? ofFamily(sp.internalEndpoints) : sp.externalPolicyLocal ? ofFamily(sp.externalEndpoints) : [];
  let allReachable: LocalEndpoint[];
  if (!usesLocalEndpoints) allReachable = clusterEndpoints;
  else if (!usesClusterEndpoints) allReachable = localEndpoints;
  else {
    const seen = new Set(clusterEndpoints.map((e) => `${e.address}#${e.port}`));
    allReachable = [...clusterEndpoints, ...localEndpoints.filter((e) => !seen.has(`${e.address}#${e.port}`))];
  }
  return {
    sp,
    clusterIP,
    externalIPs,
    lbIPs,
    sourceRanges: sp.loadBalancerSourceRanges.filter((c) => familyOfCIDR(c) === family),
    clusterEndpoints,
    localEndpoints,
    allReachable,
    hasEndpoints: sp.hasEndpoints[family] ?? false,
    externallyAccessible,
    usesClusterEndpoints,
    usesLocalEndpoints,
  };
}

/** The node's IPs of a family from its Node object: InternalIPs, else ExternalIPs. */
export function nodeIPsOf(state: LocalState, family: IPFamily): string[] {
  const of = (type: string) => state.node.addresses.filter((a) => a.type === type && parseIP(a.address)?.family === family).map((a) => a.address);
  const internal = of('InternalIP');
  return internal.length > 0 ? internal : of('ExternalIP');
}
