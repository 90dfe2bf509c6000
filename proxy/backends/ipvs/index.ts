// proxy/backends/ipvs: the `to-ipvs` backend (kube-proxy's ipvs mode): virtual servers on
// the kube-ipvs0 dummy interface, ipsets, and the few iptables rules that mode keeps.
import { flagNumber, flagString, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Backend } from '../backend.ts';
import { checkNodePortAddresses, clusterCIDRFlag, ipFamiliesFlag, masqueradeAllFlag, masqueradeBitFlag, ruleBackendOptions } from '../common/index.ts';
import type { IptablesMode } from '../iptables/mode.ts';
import { IpvsBackend, IpvsSetupError, ipvsSchedulers } from './backend.ts';

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
  {
    name: 'nodeport-addresses',
    type: 'list',
    description: 'CIDRs (and/or "primary") whose local addresses NodePorts answer on; empty: every address of the node but loopback and kube-ipvs0\'s',
    default: [],
    check: checkNodePortAddresses,
  },
  { name: 'ipvs-scheduler', type: 'string', choices: [...ipvsSchedulers], description: 'the IPVS scheduler of every virtual server', default: 'rr' },
  { name: 'ipvs-drain-timeout', type: 'number', description: 'seconds a removed real server may keep draining its connections (weight 0) before it is deleted anyway', default: 900 },
  { name: 'iptables-mode', type: 'string', choices: ['auto', 'nft', 'legacy'], description: 'iptables flavour for the rules ipvs mode keeps: auto detects the one the node uses', default: 'auto' },
  masqueradeBitFlag,
  ipFamiliesFlag('both'),
  { name: 'dry-run', type: 'boolean', description: 'print the ipvsadm -R, ipset restore, iptables-restore and ip -batch inputs instead of applying them', default: false },
  { name: 'cleanup', type: 'boolean', description: 'remove every virtual server, kube-ipvs0, the chains and the ipsets of ipvs mode (both families), then exit', default: false },
];

/** The backend a `to-ipvs` stage with these flag values runs. */
export function createIpvsBackend(v: FlagValues, ctx: { logger: Logger }): IpvsBackend {
  return new IpvsBackend({
    logger: ctx.logger,
    ...ruleBackendOptions(v, (m) => new IpvsSetupError(m)),
    scheduler: flagString(v, 'ipvs-scheduler') ?? 'rr',
    drainTimeoutMs: (flagNumber(v, 'ipvs-drain-timeout') ?? 900) * 1000,
    mode: (flagString(v, 'iptables-mode') ?? 'auto') as IptablesMode | 'auto',
  });
}

export const ipvsStage = {
  name: 'ipvs',
  proxyMode: 'ipvs',
  summary: "program the node with IPVS virtual servers, ipsets and a few iptables rules, laid out as kube-proxy's ipvs mode lays them out",
  flags: ipvsFlags,
  create(flags: FlagValues, ctx: { logger: Logger }): Backend {
    return createIpvsBackend(flags, ctx);
  },
  /** `to-ipvs --cleanup`: remove everything, in both families and both iptables flavours. */
  async cleanup(flags: FlagValues, ctx: { logger: Logger }): Promise<void> {
    await createIpvsBackend(flags, ctx).cleanup();
  },
};

/** What the pod running `to-ipvs` needs from the node. */
export const ipvsPodNeeds = {
  privileged: true,
  privilegedWhy:
    'sets the net.ipv4.vs.* sysctls (conntrack, expire_nodest_conn, expire_quiescent_template) and net.ipv4.ip_forward, creates the kube-ipvs0 dummy interface and binds service addresses to it, and programs IPVS, ipsets and iptables (CAP_NET_ADMIN; the net.ipv4.vs sysctls and module loading need more than that)',
  sysctls: ['net.ipv4.vs.conntrack=1', 'net.ipv4.vs.expire_nodest_conn=1', 'net.ipv4.vs.expire_quiescent_template=1', 'net.ipv4.ip_forward=1'],
  hostNetwork: true,
  hostMounts: [
    { path: '/lib/modules', readOnly: true, why: 'the ip_vs, ip_vs_<scheduler> and nf_conntrack modules are loaded from the host' },
    { path: '/run/xtables.lock', readOnly: false, why: 'iptables-restore takes the host\'s xtables lock' },
  ],
  packages: ['ipset', 'ipvsadm', 'iptables'],
  kernelModules: ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'nf_conntrack'],
} as const;
