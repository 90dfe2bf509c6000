// The one table of cluster CIDRs per IP family. kind gets them as podSubnet/serviceSubnet,
// the proxy gets the pod CIDRs as --cluster-cidr; both read them from here.
import type { IpFamily } from '../config/index.ts';

export interface ClusterNetwork {
  /** One CIDR per family, IPv4 first. */
  podCIDRs: readonly string[];
  serviceCIDRs: readonly string[];
}

const v4 = { pod: '10.244.0.0/16', service: '10.96.0.0/16' } as const;
const v6 = { pod: 'fd00:10:244::/56', service: 'fd00:10:96::/112' } as const;

export const clusterNetworks: Readonly<Record<IpFamily, ClusterNetwork>> = {
  ipv4: { podCIDRs: [v4.pod], serviceCIDRs: [v4.service] },
  ipv6: { podCIDRs: [v6.pod], serviceCIDRs: [v6.service] },
  dual: { podCIDRs: [v4.pod, v6.pod], serviceCIDRs: [v4.service, v6.service] },
};
