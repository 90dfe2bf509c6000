// proxy/backends/iptables: the `to-iptables` backend (kube-proxy's iptables mode).
import { flagBoolean, flagList, flagNumber, flagString, type FlagSpec, type FlagValues } from '../../cli/flags.ts';
import type { IPFamily } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Backend } from '../backend.ts';
import { IptablesBackend, RuleSetupError } from './backend.ts';
import type { IptablesMode } from './mode.ts';

export { IptablesBackend, RuleSetupError, blamedLine, errIptablesRestore, errIptablesSetup, type IptablesBackendOptions } from './backend.ts';
export { renderIptables, formatProbability, formatMark, jumpRules, nodeIPsOf, type RenderOptions, type RenderResult, type SyncRecord, type ServicePortChains } from './render.ts';
export * from './names.ts';
export { Tracer, tracePacket, type Packet, type Outcome, type TraceNode, type TraceOptions, type Verdict } from './trace.ts';
export { Ruleset, scanSave, tokenize, RestoreParseError, type SavedState } from './rules.ts';
export { planCleanup, type CleanupPlan } from './cleanup.ts';
export { binaries, decideMode, detectMode, type IptablesMode } from './mode.ts';
export { processRunner, netnsRunner, type Runner, type RunResult } from './exec.ts';
export { RuleApplyError } from '../common/index.ts';

export const iptablesFlags: FlagSpec[] = [
  {
    name: 'cluster-cidr',
    type: 'list',
    description: 'the pod network CIDRs, at most one per family: ClusterIP traffic from outside them is masqueraded, pods short-circuit externalTrafficPolicy=Local',
    default: [],
  },
  { name: 'masquerade-all', type: 'boolean', description: 'masquerade all traffic to cluster IPs', default: false },
  {
    name: 'nodeport-addresses',
    type: 'list',
    description: 'CIDRs (and/or "primary": the node\'s primary IPs) whose local addresses NodePorts and health check ports answer on; empty: all',
    default: [],
  },
  { name: 'iptables-mode', type: 'string', choices: ['auto', 'nft', 'legacy'], description: 'iptables flavour: auto detects the one the node uses (as iptables-wrappers do)', default: 'auto' },
  { name: 'iptables-localhost-nodeports', type: 'boolean', description: 'NodePorts also answer on 127.0.0.1 (sets route_localnet=1; IPv4 only)', default: true },
  { name: 'masquerade-bit', type: 'number', description: 'the packet mark bit (0-31) that asks for masquerade', default: 14 },
  { name: 'ip-families', type: 'list', description: 'families to sync (IPv4, IPv6); empty: every family whose ip(6)tables works here', default: [] },
  { name: 'dry-run', type: 'boolean', description: 'print the iptables-restore input instead of applying it', default: false },
  { name: 'cleanup', type: 'boolean', description: 'remove every chain and rule this backend creates (both families, nft and legacy), then exit', default: false },
];

function parseFamilies(v: FlagValues): IPFamily[] | undefined {
  const list = flagList(v, 'ip-families');
  if (list.length === 0) return undefined;
  return list.map((x) => {
    const f = x.toLowerCase() === 'ipv4' ? 'IPv4' : x.toLowerCase() === 'ipv6' ? 'IPv6' : undefined;
    if (!f) throw new RuleSetupError(`--ip-families=${x}: accepted: IPv4, IPv6`);
    return f;
  });
}

/** The backend a `to-iptables` stage with these flag values runs. */
export function createIptablesBackend(v: FlagValues, ctx: { logger: Logger }): IptablesBackend {
  const bit = flagNumber(v, 'masquerade-bit') ?? 14;
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) throw new RuleSetupError(`--masquerade-bit=${bit}: accepted: an integer 0-31`);
  const families = parseFamilies(v);
  return new IptablesBackend({
    logger: ctx.logger,
    clusterCIDRs: flagList(v, 'cluster-cidr'),
    masqueradeAll: flagBoolean(v, 'masquerade-all'),
    nodePortAddresses: flagList(v, 'nodeport-addresses'),
    localhostNodePorts: v['iptables-localhost-nodeports'] !== false,
    masqueradeBit: bit,
    mode: (flagString(v, 'iptables-mode') ?? 'auto') as IptablesMode | 'auto',
    ...(families && { families }),
    dryRun: flagBoolean(v, 'dry-run'),
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
