// proxy/backends/nft: the `to-nft` backend (kube-proxy's nftables mode, in tables of its
// own: `ip kpng` and `ip6 kpng`).
import { described, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import type { BackendContext, BackendDescriptor } from '../backend.ts';
import { clusterCIDRFlag, ipFamiliesFlag, masqueradeAllFlag, masqueradeBitFlag, netfilterHostMounts, netfilterPackages, nodePortAddressesFlag, ruleBackendOptions } from '../common/index.ts';
import { NftBackend } from './backend.ts';
import { NftSetupError } from './exec.ts';

export { NftBackend, type NftBackendOptions, type NftSyncStats } from './backend.ts';
export { NftSetupError, applyTransaction, blamedLine, errNftSetup, errNftTransaction, nftCommand } from './exec.ts';
export { renderFamily, renderGlobal, renderServicePort, familyContext, nodePortTargets, pickEndpoint, endpointRulesMax, type RenderOptions, type Part, type ChainDef, type FamilyRender } from './render.ts';
export { planReplace, planRewrite, planPartial, planStaleDelete, cleanupTransaction, type Plan, type Mode, type FamilyView } from './transaction.ts';
export * from './names.ts';
export { RuleApplyError, processRunner, netnsRunner, type Runner } from '../common/index.ts';

export const nftFlags: FlagSpec[] = [
  clusterCIDRFlag,
  masqueradeAllFlag,
  described(
    nodePortAddressesFlag,
    'CIDRs (and/or "primary") whose local addresses NodePorts answer on; empty: the node\'s primary IPs (as kube-proxy\'s nftables mode); 0.0.0.0/0,::/0: every local address but loopback',
  ),
  masqueradeBitFlag,
  ipFamiliesFlag,
  { name: 'dry-run', type: 'boolean', description: 'print each nft transaction instead of applying it; binds no port (no /healthz, /metrics or healthCheckNodePort server) and deletes no conntrack flow', default: false },
  { name: 'cleanup', type: 'boolean', description: 'delete the ip kpng and ip6 kpng tables, then exit', default: false },
];

/** The backend a `to-nft` stage with these flag values runs. */
export function createNftBackend(v: FlagValues, ctx: BackendContext): NftBackend {
  return new NftBackend({ logger: ctx.logger, ...(ctx.run && { run: ctx.run }), ...ruleBackendOptions(v, (m) => new NftSetupError(m)) });
}

/** `to-nft`; its --cleanup (run alone) deletes both tables. /proxyMode answers "nftables", kube-proxy's word. */
export const nftBackend: BackendDescriptor = {
  name: 'nft',
  proxyMode: 'nftables',
  summary: "program the node with nftables (tables ip kpng and ip6 kpng), laid out as kube-proxy's nftables mode lays them out",
  flags: nftFlags,
  metrics: { family: 'nftables', failures: 'nftables-sync' },
  pod: {
    privileged: false,
    capabilities: ['NET_ADMIN', 'NET_RAW'],
    reason: 'nft and conntrack use netlink (NET_ADMIN); NET_RAW so it can clear iptables rules a previous proxy left behind with legacy iptables',
    hostMounts: netfilterHostMounts,
    packages: netfilterPackages,
  },
  proof: 'runs',
  scope: { kind: 'network-namespace' },
  subjects: [{ id: 'nft', title: 'nftables', args: [] }],
  create: createNftBackend,
};
