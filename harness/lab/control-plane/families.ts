// Service and pod CIDRs of a lab or test control plane, per IP family.
export type Family = 'ipv4' | 'ipv6' | 'dual';
export const families: readonly Family[] = ['ipv4', 'ipv6', 'dual'];

export interface FamilyCIDRs {
  serviceCIDRs: string[];
  podCIDRs: string[];
}

const v4 = { service: '10.96.0.0/16', pod: '10.244.0.0/16' };
const v6 = { service: 'fd00:10:96::/112', pod: 'fd00:10:244::/56' };

export function cidrsFor(family: Family): FamilyCIDRs {
  if (family === 'ipv4') return { serviceCIDRs: [v4.service], podCIDRs: [v4.pod] };
  if (family === 'ipv6') return { serviceCIDRs: [v6.service], podCIDRs: [v6.pod] };
  return { serviceCIDRs: [v4.service, v6.service], podCIDRs: [v4.pod, v6.pod] };
}

/** The first address of a service CIDR: the `kubernetes` Service's cluster IP. */
export function firstServiceIP(cidr: string): string {
  const base = cidr.split('/')[0]!;
  if (base.includes(':')) return base.endsWith('::') ? `${base}1` : `${base}:1`;
  const parts = base.split('.').map(Number);
  parts[3] = parts[3]! + 1;
  return parts.join('.');
}
