// What each backend's container may do to the node, and why. Least privilege: the
// capabilities a backend needs, `privileged` only where no capability set is enough.
import type { Backend } from '../config/index.ts';

export interface BackendSecurity {
  /** Run privileged (all capabilities, writable /proc/sys, devices). */
  privileged: boolean;
  /** Added capabilities (everything else is dropped) when not privileged. */
  capabilities: readonly string[];
  reason: string;
}

export const backendSecurity: Readonly<Record<Backend, BackendSecurity>> = {
  iptables: {
    privileged: false,
    capabilities: ['NET_ADMIN', 'NET_RAW'],
    reason:
      'iptables-restore, ip6tables-restore and conntrack program netfilter over netlink (NET_ADMIN); legacy iptables talks to the kernel over a raw socket (NET_RAW)',
  },
  nft: {
    privileged: false,
    capabilities: ['NET_ADMIN', 'NET_RAW'],
    reason:
      'nft and conntrack use netlink (NET_ADMIN); NET_RAW so it can clear iptables rules a previous proxy left behind with legacy iptables',
  },
  ipvs: {
    privileged: true,
    capabilities: [],
    reason:
      'IPVS needs the net.ipv4.vs.* sysctls set (conntrack=1 for masquerading, conn_reuse_mode, expire_nodest_conn), and /proc/sys is writable only in a privileged container; it may also load the ip_vs modules (SYS_MODULE)',
  },
  userspace: {
    privileged: false,
    capabilities: ['NET_ADMIN', 'NET_RAW', 'NET_BIND_SERVICE'],
    reason:
      'it accepts connections itself and may listen on service ports below 1024 (NET_BIND_SERVICE); cluster-IP traffic still has to be steered to its sockets and stale conntrack entries cleared (NET_ADMIN, NET_RAW)',
  },
};
