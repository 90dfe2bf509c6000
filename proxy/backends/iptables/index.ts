// proxy/backends/iptables: the `to-iptables` backend (kube-proxy's iptables mode).
import { flagString, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import { checkNodePortAddresses, clusterCIDRFlag, ipFamiliesFlag, masqueradeAllFlag, masqueradeBitFlag, ruleBackendOptions } from '../common/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Backend } from '../backend.ts';
import { IptablesBackend, RuleSetupError } from './backend.ts';
import type { IptablesMode } from './mode.ts';

export { IptablesBackend, RuleSetupError, blamedLine, errIptablesRestore, errIptablesSetup, type IptablesBackendOptions } from './backend.ts';
export { renderIptables, formatProbability, formatMark, jumpRules, type RenderOptions, type RenderResult, type SyncRecord, type ServicePortChains } from './render.ts';
export * from './names.ts';
export { Tracer, tracePacket, type Packet, type Outcome, type TraceNode, type TraceOptions, type Verdict } from './trace.ts';
export { Ruleset, scanSave, tokenize, RestoreParseError, type SavedState } from './rules.ts';
export { planCleanup, type CleanupPlan } from './cleanup.ts';
export { binaries, decideMode, detectMode, type IptablesMode } from './mode.ts';
export { processRunner, netnsRunner, type Runner, type RunResult } from './exec.ts';
export { RuleApplyError } from '../common/index.ts';

export const iptablesFlags: FlagSpec[] = [
  clusterCIDRFlag,
  masqueradeAllFlag,
  {
    name: 'nodeport-addresses',
    type: 'list',
    description: 'CIDRs (and/or "primary": the node\'s primary IPs) whose local addresses NodePorts and health check ports answer on; empty: all',
    default: [],
    check: checkNodePortAddresses,
  },
  { name: 'iptables-mode', type: 'string', choices: ['auto', 'nft', 'legacy'], description: 'iptables flavour: auto detects the one the node uses (as iptables-wrappers do)', default: 'auto' },
  { name: 'iptables-localhost-nodeports', type: 'boolean', description: 'NodePorts also answer on 127.0.0.1 (sets route_localnet=1; IPv4 only)', default: true },
  masqueradeBitFlag,
  ipFamiliesFlag('every family whose ip(6)tables works here'),
  { name: 'dry-run', type: 'boolean', description: 'print the iptables-restore input instead of applying it; binds no port (no /healthz, /metrics or healthCheckNodePort server) and deletes no conntrack flow', default: false },
  { name: 'cleanup', type: 'boolean', description: 'remove every chain and rule this backend creates (both families, nft and legacy), then exit', default: false },
];

/** The backend a `to-iptables` stage with these flag values runs. */
export function createIptablesBackend(v: FlagValues, ctx: { logger: Logger }): IptablesBackend {
  return new IptablesBackend({
    logger: ctx.logger,
    ...ruleBackendOptions(v, (m) => new RuleSetupError(m)),
    localhostNodePorts: v['iptables-localhost-nodeports'] !== false,
    mode: (flagString(v, 'iptables-mode') ?? 'auto') as IptablesMode | 'auto',
  });
}

export const iptablesStage = {
  name: 'to-iptables',
  summary: "program the node with iptables rules, laid out as kube-proxy's iptables mode lays them out",
  flags: iptablesFlags,
  create(flags: FlagValues, ctx: { logger: Logger }): Backend {
    return createIptablesBackend(flags, ctx);
  },
  /** `to-iptables --cleanup`: remove everything, in both families and both flavours. */
  async cleanup(flags: FlagValues, ctx: { logger: Logger }): Promise<void> {
    await createIptablesBackend(flags, ctx).cleanup();
  },
};
