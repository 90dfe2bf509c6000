// kube-proxy's ipvs-mode names (pkg/proxy/ipvs): the dummy interface, the iptables chains
// and the ipsets, so operators' habits and tools carry over. IPv6 sets are the same sets
// with "KUBE-6-" in front, as kube-proxy names them when both families share one node.
import type { IPFamily } from '../../model/index.ts';

/** The dummy interface every service address is bound to, so the kernel takes the packets in. */
export const dummyDevice = 'kube-ipvs0';

export const kubeServicesChain = 'KUBE-SERVICES';
export const kubePostroutingChain = 'KUBE-POSTROUTING';
export const kubeMarkMasqChain = 'KUBE-MARK-MASQ';
export const kubeNodePortChain = 'KUBE-NODE-PORT';
export const kubeLoadBalancerChain = 'KUBE-LOAD-BALANCER';
export const kubeForwardChain = 'KUBE-FORWARD';
export const kubeProxyFirewallChain = 'KUBE-PROXY-FIREWALL';
export const kubeSourceRangesFirewallChain = 'KUBE-SOURCE-RANGES-FIREWALL';
export const kubeIPVSFilterChain = 'KUBE-IPVS-FILTER';
export const kubeIPVSOutFilterChain = 'KUBE-IPVS-OUT-FILTER';

/** Chains of ours, per table, in the order they are declared. */
export const ipvsChains = {
  nat: [kubeServicesChain, kubePostroutingChain, kubeNodePortChain, kubeLoadBalancerChain, kubeMarkMasqChain],
  filter: [kubeForwardChain, kubeNodePortChain, kubeProxyFirewallChain, kubeSourceRangesFirewallChain, kubeIPVSFilterChain, kubeIPVSOutFilterChain],
} as const;

export type SetType = 'hash:ip' | 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'bitmap:port';

export interface SetDef {
  /** The IPv4 name; IPv6 adds "6-" after "KUBE-". */
  base: string;
  type: SetType;
  /** What the set holds (also the comment of the iptables rules matching it). */
  comment: string;
}

const def = (base: string, type: SetType, comment: string): SetDef => ({ base, type, comment });

export const loopBackSet = def('KUBE-LOOP-BACK', 'hash:ip,port,ip', 'Kubernetes endpoints dst ip:port and source ip for solving hairpin purpose');
export const clusterIPSet = def('KUBE-CLUSTER-IP', 'hash:ip,port', 'Kubernetes service cluster ip and port for masquerade purpose');
export const externalIPSet = def('KUBE-EXTERNAL-IP', 'hash:ip,port', 'Kubernetes service external ip and port for masquerade and filter purpose');
export const externalIPLocalSet = def('KUBE-EXTERNAL-IP-LOCAL', 'hash:ip,port', 'Kubernetes service external ip and port with externalTrafficPolicy Local');
export const loadBalancerSet = def('KUBE-LOAD-BALANCER', 'hash:ip,port', 'Kubernetes service lb portal');
export const loadBalancerFWSet = def('KUBE-LOAD-BALANCER-FW', 'hash:ip,port', 'Kubernetes service load balancer ip and port for load balancer with sourceRange');
export const loadBalancerLocalSet = def('KUBE-LOAD-BALANCER-LOCAL', 'hash:ip,port', 'Kubernetes service load balancer ip and port with externalTrafficPolicy Local');
export const loadBalancerSourceIPSet = def('KUBE-LOAD-BALANCER-SOURCE-IP', 'hash:ip,port,ip', 'Kubernetes service load balancer ip and port and source IP for packet filter purpose');
export const loadBalancerSourceCIDRSet = def('KUBE-LOAD-BALANCER-SOURCE-CIDR', 'hash:ip,port,net', 'Kubernetes service load balancer ip and port and source cidr for packet filter purpose');
export const nodePortSetTCP = def('KUBE-NODE-PORT-TCP', 'bitmap:port', 'Kubernetes nodeport TCP port for masquerade purpose');
export const nodePortLocalSetTCP = def('KUBE-NODE-PORT-LOCAL-TCP', 'bitmap:port', 'Kubernetes nodeport TCP port with externalTrafficPolicy Local');
export const nodePortSetUDP = def('KUBE-NODE-PORT-UDP', 'bitmap:port', 'Kubernetes nodeport UDP port for masquerade purpose');
export const nodePortLocalSetUDP = def('KUBE-NODE-PORT-LOCAL-UDP', 'bitmap:port', 'Kubernetes nodeport UDP port with externalTrafficPolicy Local');
export const nodePortSetSCTP = def('KUBE-NODE-PORT-SCTP-HASH', 'hash:ip,port', 'Kubernetes nodeport SCTP port for masquerade purpose with type hash ip:port');
export const nodePortLocalSetSCTP = def('KUBE-NODE-PORT-LOCAL-SCTP-HASH', 'hash:ip,port', 'Kubernetes nodeport SCTP port with externalTrafficPolicy Local with type hash ip:port');
export const healthCheckNodePortSet = def('KUBE-HEALTH-CHECK-NODE-PORT', 'bitmap:port', 'Kubernetes health check node port');
export const ipvsSet = def('KUBE-IPVS-IPS', 'hash:ip', 'IPVS service addresses bound to kube-ipvs0');
/** Service addresses and ports without any endpoint: REJECTed in the filter table. */
export const noEndpointsSet = def('KUBE-NO-ENDPOINTS', 'hash:ip,port', 'Kubernetes service ip and port without endpoints, rejected');

/** Every set of ours, in kube-proxy's order (ours last). */
export const setDefs: readonly SetDef[] = [
  loopBackSet,
  clusterIPSet,
  externalIPSet,
  externalIPLocalSet,
  loadBalancerSet,
  loadBalancerFWSet,
  loadBalancerLocalSet,
  loadBalancerSourceIPSet,
  loadBalancerSourceCIDRSet,
  nodePortSetTCP,
  nodePortLocalSetTCP,
  nodePortSetUDP,
  nodePortLocalSetUDP,
  nodePortSetSCTP,
  nodePortLocalSetSCTP,
  healthCheckNodePortSet,
  ipvsSet,
  noEndpointsSet,
];

/** ipset names hold at most 31 characters. */
export const setNameMax = 31;

/** A set's name in a family: KUBE-X for IPv4, KUBE-6-X for IPv6, cut to 31 characters as kube-proxy cuts it. */
export function setName(d: SetDef, family: IPFamily): string {
  return family === 'IPv6' ? d.base.replace(/^KUBE-/, 'KUBE-6-').slice(0, setNameMax) : d.base;
}

/** Every set name of ours, both families (cleanup). */
export function allSetNames(): string[] {
  return [...setDefs.map((d) => setName(d, 'IPv4')), ...setDefs.map((d) => setName(d, 'IPv6'))];
}
