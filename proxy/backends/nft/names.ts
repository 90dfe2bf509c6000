// Names of the nftables objects, as kube-proxy's nftables proxier names them
// (pkg/proxy/nftables/proxier.go), in tables of our own: `ip kpng` and `ip6 kpng`.
import { hashName } from '../common/index.ts';
import { nameText } from './escape.ts';
import type { IPFamily, Protocol } from '../../model/index.ts';

export const tableName = 'kpng';
export const tableComment = 'rules for kpng';

/** The nft family keyword of an IP family's table. */
export function nftFamily(family: IPFamily): 'ip' | 'ip6' {
  return family === 'IPv6' ? 'ip6' : 'ip';
}

// Base chains
export const filterPreroutingChain = 'filter-prerouting';
export const filterInputChain = 'filter-input';
export const filterForwardChain = 'filter-forward';
export const filterOutputChain = 'filter-output';
export const filterOutputPostDNATChain = 'filter-output-post-dnat';
export const natPreroutingChain = 'nat-prerouting';
export const natOutputChain = 'nat-output';
export const natPostroutingChain = 'nat-postrouting';

// Service dispatch
export const servicesChain = 'services';
export const serviceIPsMap = 'service-ips';
export const serviceNodePortsMap = 'service-nodeports';
export const nodePortIPsSet = 'nodeport-ips';
export const clusterIPsSet = 'cluster-ips';
/** "endpoint . endpoint" for every endpoint: hairpin traffic, to masquerade. */
export const hairpinSet = 'hairpin-endpoints';

// Services without (usable) endpoints
export const serviceEndpointsCheckChain = 'service-endpoints-check';
export const nodePortEndpointsCheckChain = 'nodeport-endpoints-check';
export const noEndpointServicesMap = 'no-endpoint-services';
export const noEndpointNodePortsMap = 'no-endpoint-nodeports';
export const rejectChain = 'reject-chain';

// Unused ports of ClusterIPs
export const clusterIPsCheckChain = 'cluster-ips-check';

// loadBalancerSourceRanges
export const firewallIPsMap = 'firewall-ips';
export const firewallCheckChain = 'firewall-check';

// Masquerading
export const markMasqChain = 'mark-for-masquerade';
export const masqueradingChain = 'masquerading';

export const servicePortPolicyClusterChainNamePrefix = 'service-';
export const servicePortPolicyLocalChainNamePrefix = 'local-';
export const serviceExternalChainNamePrefix = 'external-';
export const servicePortEndpointChainNamePrefix = 'endpoint-';
export const servicePortEndpointAffinityNamePrefix = 'affinity-';
export const servicePortFirewallChainNamePrefix = 'firewall-';

/** nft's limit on object names (NFT_NAME_MAXLEN - 1). */
export const nameLengthMax = 256;
const chainNamePrefixLengthMax = 16;
const chainNameBaseLengthMax = nameLengthMax - chainNamePrefixLengthMax;

/** kube-proxy's hashAndTruncate: "HASH8-name", cut to 240 characters ("..." at the end) when longer; the hash is of the raw name, the name made safe (escape.ts). */
export function hashAndTruncate(name: string): string {
  const out = `${hashName(name, 8)}-${nameText(name)}`;
  return out.length > chainNameBaseLengthMax ? `${out.slice(0, chainNameBaseLengthMax - 3)}...` : out;
}

/** "HASH-namespace/name/protocol/portName", e.g. "ULMVA6XW-ns1/svc1/tcp/p80". */
export function servicePortChainNameBase(namespace: string, name: string, protocol: Protocol | string, portName: string): string {
  return hashAndTruncate(`${namespace}/${name}/${protocol.toLowerCase()}/${portName}`);
}

/**
 * "HASH-namespace/name/protocol/portName__IP/port", e.g. "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80";
 * an IPv6 address has its colons turned into dots (colons are not allowed in names).
 */
export function servicePortEndpointChainNameBase(namespace: string, name: string, protocol: Protocol | string, portName: string, ip: string, port: number): string {
  return hashAndTruncate(`${namespace}/${name}/${protocol.toLowerCase()}/${portName}__${ip.replaceAll(':', '.')}/${port}`);
}

/** Per-service and per-endpoint chains always hold a "/"; the fixed ones never do. */
export function isServiceChainName(chain: string): boolean {
  return chain.includes('/');
}

export function isAffinitySetName(set: string): boolean {
  return set.startsWith(servicePortEndpointAffinityNamePrefix);
}

/** "IP:port", or "[IPv6]:port". */
export function endpointString(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
