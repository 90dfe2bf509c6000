// What the pod of a backend that drives netfilter (iptables, nftables) needs from the node:
// descriptors list these in their `pod`.
import type { HostMount } from '../backend.ts';

/** The host paths a netfilter backend's container mounts (iptables' lock, the kernel's modules). */
export const netfilterHostMounts: readonly HostMount[] = [
  { name: 'lib-modules', path: '/lib/modules', readOnly: true, why: 'the iptables and nft tools may load the netfilter modules they use' },
  { name: 'xtables-lock', path: '/run/xtables.lock', type: 'FileOrCreate', readOnly: false, why: "iptables' lock, shared with every other iptables user on the node (kubelet, CNI plugins)" },
];

/** Debian packages the netfilter backends drive: iptables (nft and legacy flavours), nftables, conntrack (stale UDP flows), iproute2. */
export const netfilterPackages: readonly string[] = ['iptables', 'nftables', 'conntrack', 'iproute2'];
