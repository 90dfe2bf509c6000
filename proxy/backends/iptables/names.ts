// kube-proxy's iptables chain names (pkg/proxy/iptables/proxier.go), so that operators'
// habits and tools carry over: the same service port gets the same KUBE-SVC-* name.
import { hashName } from '../common/index.ts';
import type { IPFamily, Protocol } from '../../model/index.ts';

export const kubeServicesChain = 'KUBE-SERVICES';
export const kubeExternalServicesChain = 'KUBE-EXTERNAL-SERVICES';
export const kubeNodePortsChain = 'KUBE-NODEPORTS';
export const kubePostroutingChain = 'KUBE-POSTROUTING';
export const kubeMarkMasqChain = 'KUBE-MARK-MASQ';
export const kubeForwardChain = 'KUBE-FORWARD';
export const kubeProxyFirewallChain = 'KUBE-PROXY-FIREWALL';
export const kubeletFirewallChain = 'KUBE-FIREWALL';
export const kubeProxyCanaryChain = 'KUBE-PROXY-CANARY';

export const servicePortPolicyClusterChainNamePrefix = 'KUBE-SVC-';
export const servicePortPolicyLocalChainNamePrefix = 'KUBE-SVL-';
export const serviceFirewallChainNamePrefix = 'KUBE-FW-';
export const serviceExternalChainNamePrefix = 'KUBE-EXT-';
export const servicePortEndpointChainNamePrefix = 'KUBE-SEP-';

const serviceChainPrefixes = [
  servicePortPolicyClusterChainNamePrefix,
  servicePortPolicyLocalChainNamePrefix,
  servicePortEndpointChainNamePrefix,
  serviceFirewallChainNamePrefix,
  serviceExternalChainNamePrefix,
];

/** kube-proxy's portProtoHash: base32(sha256(servicePortName + protocol))[:16], protocol lower case. */
export function portProtoHash(servicePortName: string, protocol: Protocol | string): string {
  return hashName(servicePortName + protocol.toLowerCase(), 16);
}

/** KUBE-SVC-*: dispatch to the cluster-wide endpoints. */
export function servicePortPolicyClusterChain(servicePortName: string, protocol: Protocol | string): string {
  return servicePortPolicyClusterChainNamePrefix + portProtoHash(servicePortName, protocol);
}

/** KUBE-SVL-*: dispatch to this node's endpoints (a Local traffic policy). */
export function servicePortPolicyLocalChainName(servicePortName: string, protocol: Protocol | string): string {
  return servicePortPolicyLocalChainNamePrefix + portProtoHash(servicePortName, protocol);
}

/** KUBE-FW-*: loadBalancerSourceRanges. */
export function serviceFirewallChainName(servicePortName: string, protocol: Protocol | string): string {
  return serviceFirewallChainNamePrefix + portProtoHash(servicePortName, protocol);
}

/** KUBE-EXT-*: NodePort, ExternalIP and LoadBalancer traffic. */
export function serviceExternalChainName(servicePortName: string, protocol: Protocol | string): string {
  return serviceExternalChainNamePrefix + portProtoHash(servicePortName, protocol);
}

/** KUBE-SEP-*: one endpoint; `endpoint` is "IP:port" or "[IPv6]:port". */
export function servicePortEndpointChainName(servicePortName: string, protocol: Protocol | string, endpoint: string): string {
  return servicePortEndpointChainNamePrefix + hashName(servicePortName + protocol.toLowerCase() + endpoint, 16);
}

/** "IP:port", or "[IPv6]:port" (Go's net.JoinHostPort). */
export function endpointString(address: string, port: number, family?: IPFamily): string {
  const v6 = family ? family === 'IPv6' : address.includes(':');
  return v6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A per-service or per-endpoint chain of ours (KUBE-SVC/SVL/EXT/FW/SEP-*). */
export function isServiceChainName(chain: string): boolean {
  return serviceChainPrefixes.some((p) => chain.startsWith(p));
}
