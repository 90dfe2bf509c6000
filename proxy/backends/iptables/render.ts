// The iptables renderer: the node's view → `iptables-restore --noflush` input for one IP
// family, laid out as kube-proxy lays it out (pkg/proxy/iptables/proxier.go, v1.31–1.34):
// plan.ts decides what the input holds, write.ts writes it. Pure: everything it needs to
// know about the kernel comes in through the options.
import type { IPFamily, NodeView } from '../../model/index.ts';
import { planIptables, type IptablesPlan, type RenderOptions, type SyncRecord } from './plan.ts';
import { writeRestoreInput } from './write.ts';

export {
  formatMark,
  formatProbability,
  hasJump,
  jumpRuleArgs,
  jumpRules,
  kubeletJumpRules,
  planIptables,
  type IptablesPlan,
  type JumpRule,
  type PlannedPort,
  type RenderOptions,
  type ServicePortChains,
  type SyncRecord,
} from './plan.ts';
export { restoreInputChunks, writeRestoreInput, type RestoreInputSize } from './write.ts';

export interface RenderResult {
  family: IPFamily;
  /** The iptables-restore --noflush input. */
  text: string;
  full: boolean;
  /** Pass back as `partial.previous` next time (after the input was applied). */
  record: SyncRecord;
  /** Service ports of this family. */
  servicePorts: number;
  /** Service ports whose chains this input writes. */
  writtenServicePorts: number;
  /** Chains this input deletes. */
  deletedChains: string[];
  /** Rules in our chains once applied (kube-proxy's sync_proxy_rules_iptables_total). */
  rulesPerTable: { filter: number; nat: number };
  largeClusterMode: boolean;
  lines: number;
  bytes: number;
}

/** Renders the restore input for one family. */
export function renderIptables(view: NodeView, o: RenderOptions): RenderResult {
  const plan = planIptables(view, o);
  const { text, lines } = writeRestoreInput(plan);
  return { ...planResult(plan), text, lines, bytes: Buffer.byteLength(text) };
}

/** What a RenderResult says of a plan, but its input. */
export function planResult(plan: IptablesPlan): Omit<RenderResult, 'text' | 'lines' | 'bytes'> {
  return {
    family: plan.family,
    full: plan.full,
    record: plan.record,
    servicePorts: plan.servicePorts,
    writtenServicePorts: plan.writtenServicePorts,
    deletedChains: plan.deletedChains,
    rulesPerTable: plan.rulesPerTable,
    largeClusterMode: plan.largeClusterMode,
  };
}
