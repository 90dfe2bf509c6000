// proxy/backends/ipvs: the `to-ipvs` backend (kube-proxy's ipvs mode): virtual servers on
// the kube-ipvs0 dummy interface, ipsets, and the few iptables rules that mode keeps.
import { described, flagNumber, flagString, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import type { BackendContext, BackendDescriptor } from '../backend.ts';
import { clusterCIDRFlag, ipFamiliesFlag, masqueradeAllFlag, masqueradeBitFlag, nodePortAddressesFlag, ruleBackendOptions } from '../common/index.ts';
import type { IptablesMode } from '../iptables/mode.ts';
import { IpvsBackend, IpvsSetupError, ipvsSchedulers } from './backend.ts';
import { ipvsErrors } from './errors.ts';

export { ipvsErrors, ipvsErrorText, type IpvsErrorCode } from './errors.ts';
export { IpvsBackend, IpvsSetupError, errIpvsSetup, errIpvsadm, errIpsetRestore, errIpvsAddress, ipvsSchedulers, ipvsSysctls, type IpvsBackendOptions } from './backend.ts';
export { renderFamily, renderPartial, diffIpvs, type FamilyRender, type PartialRender, type KernelView, type PartialKernel, type RenderOptions, type Draining } from './render.ts';
export { planFamily, planPort, planPorts, sumPlans, type FamilyPlan, type PortPlan, type PlanOptions } from './plan.ts';
export { PlanIndex, noneTouched, type Touched } from './plan-index.ts';
export { IpvsTable, parseIpvsSave, parseConnections, type VirtualServer, type RealServer, type Connection } from './ipvsadm.ts';
export { Drainer, defaultDrainTimeoutMs } from './drain.ts';
export * from './names.ts';

export const ipvsFlags: FlagSpec[] = [
  clusterCIDRFlag,
  masqueradeAllFlag,
  described(nodePortAddressesFlag, 'CIDRs (and/or "primary") whose local addresses NodePorts answer on; empty: every address of the node but loopback and kube-ipvs0\'s'),
  { name: 'ipvs-scheduler', type: 'string', choices: [...ipvsSchedulers], description: 'the IPVS scheduler of every virtual server', default: 'rr' },
  { name: 'ipvs-drain-timeout', type: 'number', description: 'seconds a removed real server may keep draining its connections (weight 0) before it is deleted anyway', default: 900 },
  { name: 'iptables-mode', type: 'string', choices: ['auto', 'nft', 'legacy'], description: 'iptables flavour for the rules ipvs mode keeps: auto detects the one the node uses', default: 'auto' },
  masqueradeBitFlag,
  described(ipFamiliesFlag, 'families to sync (IPv4, IPv6); empty: both'),
  { name: 'dry-run', type: 'boolean', description: 'print the ipvsadm -R, ipset restore, iptables-restore and ip -batch inputs instead of applying them; binds no port (no /healthz, /metrics or healthCheckNodePort server) and deletes no conntrack flow', default: false },
  { name: 'cleanup', type: 'boolean', description: 'remove every virtual server, kube-ipvs0, the chains and the ipsets of ipvs mode (both families), then exit', default: false },
];

/** The backend a `to-ipvs` stage with these flag values runs. */
export function createIpvsBackend(v: FlagValues, ctx: BackendContext): IpvsBackend {
  return new IpvsBackend({
    logger: ctx.logger,
    ...(ctx.run && { run: ctx.run }),
    ...ruleBackendOptions(v, (m) => new IpvsSetupError(m)),
    scheduler: flagString(v, 'ipvs-scheduler') ?? 'rr',
    drainTimeoutMs: (flagNumber(v, 'ipvs-drain-timeout') ?? 900) * 1000,
    mode: (flagString(v, 'iptables-mode') ?? 'auto') as IptablesMode | 'auto',
  });
}

/**
 * `to-ipvs`. Proven by golden inputs, a model of ipvsadm's table and a packet tracer, its
 * ipsets, iptables rules and kube-ipvs0 addresses applied in a network namespace: the test
 * kernel has no IPVS, so it is not run by the conformance suite.
 */
export const ipvsBackend: BackendDescriptor = {
  name: 'ipvs',
  proxyMode: 'ipvs',
  summary: "program the node with IPVS virtual servers, ipsets and a few iptables rules, laid out as kube-proxy's ipvs mode lays them out",
  flags: ipvsFlags,
  metrics: { family: 'ipvs', failures: 'iptables-restore' },
  pod: {
    privileged: true,
    capabilities: [],
    reason:
      'sets the net.ipv4.vs.* sysctls (conntrack, expire_nodest_conn, expire_quiescent_template) and net.ipv4.ip_forward, creates the kube-ipvs0 dummy interface and binds service addresses to it, and programs IPVS, ipsets and iptables (CAP_NET_ADMIN); the net.ipv4.vs sysctls and loading the ip_vs modules need more than that',
    hostMounts: [
      { name: 'lib-modules', path: '/lib/modules', readOnly: true, why: 'the ip_vs, ip_vs_<scheduler> and nf_conntrack modules are loaded from the host' },
      { name: 'xtables-lock', path: '/run/xtables.lock', type: 'FileOrCreate', readOnly: false, why: "iptables' lock, shared with every other iptables user on the node (kubelet, CNI plugins)" },
    ],
    packages: ['ipset', 'ipvsadm', 'iptables'],
  },
  proof: 'rendered-and-traced',
  scope: { kind: 'network-namespace' },
  subjects: [
    { id: 'ipvs-nft', title: 'ipvs (iptables nft)', args: ['--iptables-mode=nft'] },
    { id: 'ipvs-legacy', title: 'ipvs (iptables legacy)', args: ['--iptables-mode=legacy'] },
  ],
  errors: ipvsErrors,
  create: createIpvsBackend,
  /** `to-ipvs --cleanup`: every virtual server (ipvsadm -C), kube-ipvs0, the chains (both families and flavours) and the sets. */
  async cleanup(flags, ctx) {
    await createIpvsBackend(flags, ctx).cleanup();
  },
};
