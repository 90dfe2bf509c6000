// proxy/backends/iptables: the `to-iptables` backend (kube-proxy's iptables mode).
import { flagString, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import { clusterCIDRFlag, ipFamiliesFlag, masqueradeAllFlag, masqueradeBitFlag, netfilterHostMounts, netfilterPackages, nodePortAddressesFlag, ruleBackendOptions } from '../common/index.ts';
import type { BackendContext, BackendDescriptor } from '../backend.ts';
import { IptablesBackend, RuleSetupError } from './backend.ts';
import type { IptablesMode } from './mode.ts';

export { IptablesBackend, RuleSetupError, blamedLine, errIptablesRestore, errIptablesSetup, type IptablesBackendOptions } from './backend.ts';
export { renderIptables, formatProbability, formatMark, jumpRules, type RenderOptions, type RenderResult, type SyncRecord, type ServicePortChains } from './render.ts';
export * from './names.ts';
export { Ruleset, scanSave, tokenize, RestoreParseError, type SavedState } from './rules.ts';
export { planCleanup, type CleanupPlan } from './cleanup.ts';
export { binaries, decideMode, detectMode, type IptablesMode } from './mode.ts';
export { processRunner, netnsRunner, type Runner, type RunResult } from './exec.ts';
export { RuleApplyError } from '../common/index.ts';

export const iptablesFlags: FlagSpec[] = [
  clusterCIDRFlag,
  masqueradeAllFlag,
  nodePortAddressesFlag,
  { name: 'iptables-mode', type: 'string', choices: ['auto', 'nft', 'legacy'], description: 'iptables flavour: auto detects the one the node uses (as iptables-wrappers do)', default: 'auto' },
  { name: 'iptables-localhost-nodeports', type: 'boolean', description: 'NodePorts also answer on 127.0.0.1 (sets route_localnet=1; IPv4 only)', default: true },
  masqueradeBitFlag,
  ipFamiliesFlag,
  { name: 'dry-run', type: 'boolean', description: 'print the iptables-restore input instead of applying it; binds no port (no /healthz, /metrics or healthCheckNodePort server) and deletes no conntrack flow', default: false },
  { name: 'cleanup', type: 'boolean', description: 'remove every chain and rule this backend creates (both families, nft and legacy), then exit', default: false },
];

/** The backend a `to-iptables` stage with these flag values runs. */
export function createIptablesBackend(v: FlagValues, ctx: BackendContext): IptablesBackend {
  return new IptablesBackend({
    logger: ctx.logger,
    ...(ctx.run && { run: ctx.run }),
    ...ruleBackendOptions(v, (m) => new RuleSetupError(m)),
    localhostNodePorts: v['iptables-localhost-nodeports'] !== false,
    mode: (flagString(v, 'iptables-mode') ?? 'auto') as IptablesMode | 'auto',
  });
}

export const iptablesBackend: BackendDescriptor = {
  name: 'iptables',
  proxyMode: 'iptables',
  summary: "program the node with iptables rules, laid out as kube-proxy's iptables mode lays them out",
  flags: iptablesFlags,
  metrics: { family: 'iptables', failures: 'iptables-restore' },
  pod: {
    privileged: false,
    capabilities: ['NET_ADMIN', 'NET_RAW'],
    reason:
      'iptables-restore, ip6tables-restore and conntrack program netfilter over netlink (NET_ADMIN); legacy iptables talks to the kernel over a raw socket (NET_RAW)',
    hostMounts: netfilterHostMounts,
    packages: netfilterPackages,
  },
  proof: 'runs',
  scope: { kind: 'network-namespace' },
  subjects: [
    { id: 'iptables-nft', title: 'iptables (nft)', args: ['--iptables-mode=nft'] },
    { id: 'iptables-legacy', title: 'iptables (legacy)', args: ['--iptables-mode=legacy'] },
  ],
  create: createIptablesBackend,
  /** `to-iptables --cleanup`: remove everything, in both families and both flavours. */
  async cleanup(flags, ctx) {
    await createIptablesBackend(flags, ctx).cleanup();
  },
};
