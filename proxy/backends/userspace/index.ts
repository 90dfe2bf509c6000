// proxy/backends/userspace: the `to-userspace` backend (kube-proxy's userspace mode): the
// proxy's own sockets carry the traffic, nat rules redirect each frontend into them.
import { described, flagList, flagNumber, flagString, positiveDuration, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import type { BackendContext, BackendDescriptor } from '../backend.ts';
import { clusterCIDRFlag, ipFamiliesFlag, netfilterHostMounts, nodePortAddressesFlag, parseFamilies } from '../common/index.ts';
import type { IptablesMode } from '../iptables/index.ts';
import { UserspaceBackend, UserspaceSetupError } from './backend.ts';
import { userspaceErrors } from './errors.ts';

export { UserspaceBackend, UserspaceSetupError, errUserspaceRestore, errUserspaceSetup, type UserspaceBackendOptions } from './backend.ts';
export { userspaceErrors, userspaceErrorText } from './errors.ts';
export { planPort, poolKey, type Frontend, type PortPlan, type Action } from './frontends.ts';
export { renderRules, restoreInput, checkInput, chains, jumpRules } from './rules.ts';
export { RoundRobin, targetKey, type Target } from './round-robin.ts';

export const userspaceFlags: FlagSpec[] = [
  described(clusterCIDRFlag, 'the pod network CIDRs, at most one per family; accepted as every backend takes it, and unused: every proxied connection comes from the node, so nothing is masqueraded'),
  nodePortAddressesFlag,
  { name: 'iptables-mode', type: 'string', choices: ['auto', 'nft', 'legacy'], description: 'iptables flavour of the redirect rules: auto detects the one the node uses (as iptables-wrappers do)', default: 'auto' },
  described(ipFamiliesFlag, 'families to proxy (IPv4, IPv6); empty: every family whose ip(6)tables works here'),
  { name: 'udp-timeout', type: 'duration', description: 'a UDP session without a datagram either way for this long is closed (kube-proxy --udp-timeout)', default: 250, check: positiveDuration('250ms') },
  { name: 'drain-timeout', type: 'duration', description: 'on stop: how long established connections may finish after the listeners stop accepting', default: 10_000 },
  { name: 'connect-timeout', type: 'duration', description: 'how long one connect to an endpoint may take before the next endpoint is tried', default: 5_000, check: positiveDuration('5s') },
  {
    name: 'buffer-bytes',
    type: 'number',
    description: 'bytes each proxied socket buffers before the other side is paused (a slow reader never makes the proxy buffer more)',
    default: 64 * 1024,
    check: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 1024 ? undefined : 'accepted: an integer of at least 1024'),
  },
  { name: 'cleanup', type: 'boolean', description: 'remove every chain and rule this backend creates (both families, nft and legacy), then exit', default: false },
];

/** The backend a `to-userspace` stage with these flag values runs. */
export function createUserspaceBackend(v: FlagValues, ctx: BackendContext): UserspaceBackend {
  const families = parseFamilies(v, (m) => new UserspaceSetupError(m));
  return new UserspaceBackend({
    logger: ctx.logger,
    ...(ctx.run && { run: ctx.run }),
    mode: (flagString(v, 'iptables-mode') ?? 'auto') as IptablesMode | 'auto',
    ...(families && { families }),
    nodePortAddresses: flagList(v, 'nodeport-addresses'),
    udpTimeoutMs: flagNumber(v, 'udp-timeout') ?? 250,
    drainTimeoutMs: flagNumber(v, 'drain-timeout') ?? 10_000,
    connectTimeoutMs: flagNumber(v, 'connect-timeout') ?? 5_000,
    bufferBytes: flagNumber(v, 'buffer-bytes') ?? 64 * 1024,
  });
}

/**
 * `to-userspace`. A failed sync raises kube-proxy's iptables restore failure counters: kube-proxy
 * had no counter for its userspace mode, and every sync here writes its redirect rules with
 * ip(6)tables-restore, partial syncs included, so a refused restore is what makes one fail.
 */
export const userspaceBackend: BackendDescriptor = {
  name: 'userspace',
  proxyMode: 'userspace',
  summary: "carry Service traffic through the proxy's own TCP and UDP sockets, redirected into them by nat rules (kube-proxy's userspace mode)",
  flags: userspaceFlags,
  metrics: { family: 'userspace', failures: 'iptables-restore' },
  pod: {
    privileged: false,
    capabilities: ['NET_ADMIN', 'NET_RAW'],
    reason:
      'ip(6)tables-restore writes the nat and filter rules that redirect each frontend into its listening socket, and conntrack clears stale UDP flows, over netlink (NET_ADMIN); legacy iptables talks to the kernel over a raw socket (NET_RAW). The listeners take kernel-chosen ports, which needs no NET_BIND_SERVICE',
    hostMounts: netfilterHostMounts,
    packages: ['iptables', 'conntrack'],
  },
  proof: 'runs',
  scope: { kind: 'network-namespace' },
  subjects: [
    { id: 'userspace-nft', title: 'userspace (iptables-nft)', args: ['--iptables-mode=nft'] },
    { id: 'userspace-legacy', title: 'userspace (iptables-legacy)', args: ['--iptables-mode=legacy'] },
  ],
  errors: userspaceErrors,
  create: createUserspaceBackend,
  /** `to-userspace --cleanup`: remove its chains and jumps, in both families and both flavours. */
  async cleanup(flags, ctx) {
    await createUserspaceBackend(flags, ctx).cleanup();
  },
};
