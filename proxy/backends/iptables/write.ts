// The iptables writer: a plan (plan.ts) → `iptables-restore --noflush` input. Per table the
// chain declarations (which also flush them), the jump rules inserted into the built-in
// chains, then the rules: the fixed chains' head, every planned port's dispatch rules and
// own chains, the deletions of stale chains, and the last rules of KUBE-SERVICES and
// KUBE-FORWARD; the canary chain in mangle. Nothing is decided here.
import {
  kubeExternalServicesChain,
  kubeForwardChain,
  kubeletFirewallChain,
  kubeMarkMasqChain,
  kubeNodePortsChain,
  kubePostroutingChain,
  kubeProxyCanaryChain,
  kubeProxyFirewallChain,
  kubeServicesChain,
} from './names.ts';
import { jumpRuleArgs, type IptablesPlan } from './plan.ts';
import { quote } from './rules.ts';

/** The restore input of a plan, and its number of lines. */
export function writeRestoreInput(plan: IptablesPlan): { text: string; lines: number } {
  const filterChains: string[] = [];
  const filterJumps: string[] = [];
  const filterRules: string[] = [];
  const natChains: string[] = [];
  const natJumps: string[] = [];
  const natRules: string[] = [];
  const { writeShared, managesKubeletFirewall, canary, fixed } = plan;
  if (writeShared) {
    for (const c of [kubeServicesChain, kubeExternalServicesChain, kubeForwardChain, kubeNodePortsChain, kubeProxyFirewallChain]) filterChains.push(`:${c} - [0:0]`);
    for (const c of [kubeServicesChain, kubeNodePortsChain, kubePostroutingChain, kubeMarkMasqChain]) natChains.push(`:${c} - [0:0]`);
    if (managesKubeletFirewall) filterChains.push(`:${kubeletFirewallChain} - [0:0]`);
    natRules.push(...fixed.natHead);
    filterRules.push(...fixed.filterHead);
  }
  if (canary) {
    filterChains.push(`:${kubeProxyCanaryChain} - [0:0]`);
    natChains.push(`:${kubeProxyCanaryChain} - [0:0]`);
  }
  for (const j of plan.jumps) {
    const line = `-I ${j.chain} ${jumpRuleArgs(j).map(quote).join(' ')}`;
    (j.table === 'filter' ? filterJumps : natJumps).push(line);
  }
  for (const e of plan.ports) {
    if (writeShared) {
      filterRules.push(...e.record.dispatch.filter);
      natRules.push(...e.record.dispatch.nat);
    }
    if (e.own) {
      for (const c of e.own.chains) natChains.push(`:${c} - [0:0]`);
      natRules.push(...e.own.rules);
    }
  }
  for (const c of plan.deletedChains) {
    natChains.push(`:${c} - [0:0]`);
    natRules.push(`-X ${c}`);
  }
  if (writeShared) {
    natRules.push(...fixed.natTail);
    filterRules.push(...fixed.filter);
  }

  // Joined group by group: at 10,000 Services a table holds ~430k lines, far more than a
  // call may take as spread arguments (push(...lines) overflows the stack).
  const parts: string[] = [];
  let lines = 0;
  const table = (name: string, ...groups: string[][]) => {
    const body = groups.filter((g) => g.length > 0);
    if (body.length === 0) return;
    parts.push(`*${name}`, ...body.map((g) => g.join('\n')), 'COMMIT');
    lines += 2 + body.reduce((n, g) => n + g.length, 0);
  };
  table('filter', filterChains, filterJumps, filterRules);
  table('nat', natChains, natJumps, natRules);
  if (canary) table('mangle', [`:${kubeProxyCanaryChain} - [0:0]`]);
  const text = parts.length > 0 ? `${parts.join('\n')}\n` : '';
  return { text, lines };
}
