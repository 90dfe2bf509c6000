// proxy/backends/userspace: the `to-userspace` backend (kube-proxy's userspace mode): the
// proxy's own sockets carry the traffic, nat rules redirect each frontend into them.
import { flagList, flagNumber, flagString, positiveDuration, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Backend } from '../backend.ts';
import { ipFamiliesFlag, parseFamilies } from '../common/index.ts';
import type { IptablesMode } from '../iptables/index.ts';
import { UserspaceBackend, UserspaceSetupError } from './backend.ts';

export { UserspaceBackend, UserspaceSetupError, errUserspaceRestore, errUserspaceSetup, type UserspaceBackendOptions } from './backend.ts';
export { planPort, poolKey, type Frontend, type PortPlan, type Action } from './frontends.ts';
export { renderRules, restoreInput, checkInput, chains, jumpRules } from './rules.ts';
export { RoundRobin, targetKey, type Target } from './round-robin.ts';

export const userspaceFlags: FlagSpec[] = [
  { name: 'iptables-mode', type: 'string', choices: ['auto', 'nft', 'legacy'], description: 'iptables flavour of the redirect rules: auto detects the one the node uses (as iptables-wrappers do)', default: 'auto' },
  ipFamiliesFlag('every family whose ip(6)tables works here'),
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
export function createUserspaceBackend(v: FlagValues, ctx: { logger: Logger }): UserspaceBackend {
  const families = parseFamilies(v, (m) => new UserspaceSetupError(m));
  return new UserspaceBackend({
    logger: ctx.logger,
    mode: (flagString(v, 'iptables-mode') ?? 'auto') as IptablesMode | 'auto',
    ...(families && { families }),
    nodePortAddresses: flagList(v, 'nodeport-addresses'),
    udpTimeoutMs: flagNumber(v, 'udp-timeout') ?? 250,
    drainTimeoutMs: flagNumber(v, 'drain-timeout') ?? 10_000,
    connectTimeoutMs: flagNumber(v, 'connect-timeout') ?? 5_000,
    bufferBytes: flagNumber(v, 'buffer-bytes') ?? 64 * 1024,
  });
}

export const userspaceStage = {
  name: 'to-userspace',
  summary: "carry Service traffic through the proxy's own TCP and UDP sockets, redirected into them by nat rules (kube-proxy's userspace mode)",
  flags: userspaceFlags,
  proxyMode: 'userspace',
  create(flags: FlagValues, ctx: { logger: Logger }): Backend {
    return createUserspaceBackend(flags, ctx);
  },
  async cleanup(flags: FlagValues, ctx: { logger: Logger }): Promise<void> {
    await createUserspaceBackend(flags, ctx).cleanup();
  },
};

/** What the backend's pod needs (the backend descriptor's data). */
export const userspacePodNeeds = {
  capabilities: [
    { name: 'NET_ADMIN', why: 'writes the nat and filter rules (ip(6)tables-restore) that redirect frontends into the listening sockets' },
    { name: 'NET_RAW', why: 'iptables opens raw netlink/xtables sockets to read and write the rules' },
    { name: 'NET_BIND_SERVICE', why: "kube-proxy's userspace mode asked for it to bind proxy ports below 1024; the listeners here take kernel-chosen ephemeral ports, so it is needed only where the ephemeral range reaches below 1024" },
  ],
  hostMounts: [{ path: '/run/xtables.lock', why: 'iptables serialises rule changes with the node’s other iptables users through this lock', type: 'FileOrCreate' }],
  packages: ['iptables'],
} as const;
