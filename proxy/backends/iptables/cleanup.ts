// Removing everything the backend ever created (--cleanup), planned from iptables-save
// output as one restore input: our jump rules out of the built-in chains, our chains
// flushed and deleted. A chain someone else's rules still jump to is left alone (with
// the chains it needs), so the restore cannot fail on a reference we do not own.
import {
  isServiceChainName,
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
import { Ruleset, isBuiltinChain, quote, ruleTarget } from './rules.ts';

/** Our fixed chains per table (service chains are recognised by prefix). */
export const ownedChains: Readonly<Record<string, readonly string[]>> = {
  filter: [kubeServicesChain, kubeExternalServicesChain, kubeForwardChain, kubeNodePortsChain, kubeProxyFirewallChain, kubeletFirewallChain, kubeProxyCanaryChain],
  nat: [kubeServicesChain, kubeNodePortsChain, kubePostroutingChain, kubeMarkMasqChain, kubeProxyCanaryChain],
  mangle: [kubeProxyCanaryChain],
};

export interface CleanupPlan {
  /** Restore input (--noflush); "" when there is nothing to remove. */
  text: string;
  /** "table/chain" deleted. */
  deleted: string[];
  /** "table/chain" left in place because other rules still use it. */
  kept: string[];
  /** Jump rules removed from built-in chains. */
  unlinked: number;
}

function owned(table: string, chain: string): boolean {
  return (ownedChains[table]?.includes(chain) ?? false) || (table === 'nat' && isServiceChainName(chain));
}

export function planCleanup(saveText: string): CleanupPlan {
  const rs = new Ruleset().apply(saveText, { noflush: false, checkTargets: false });
  const parts: string[] = [];
  const deleted: string[] = [];
  const kept: string[] = [];
  let unlinked = 0;
  for (const [table, t] of rs.tables) {
    const ours = new Set([...t.chains.keys()].filter((c) => owned(table, c)));
    if (ours.size === 0) continue;
    // Foreign rules (not in our chains, not our jumps from built-in chains) pin what they jump to.
    const keep = new Set<string>();
    const unlink: string[] = [];
    for (const [chain, rules] of t.chains) {
      if (ours.has(chain)) continue;
      for (const r of rules) {
        const target = ruleTarget(r.args);
        if (target === undefined || !ours.has(target)) continue;
        if (isBuiltinChain(table, chain)) unlink.push(`-D ${chain} ${r.args.map(quote).join(' ')}`);
        else keep.add(target);
      }
    }
    // What a kept chain jumps to is kept too.
    for (let grew = true; grew; ) {
      grew = false;
      for (const c of [...keep]) {
        for (const r of t.chains.get(c) ?? []) {
          const target = ruleTarget(r.args);
          if (target !== undefined && ours.has(target) && !keep.has(target)) {
            keep.add(target);
            grew = true;
          }
        }
      }
    }
    const remove = [...ours].filter((c) => !keep.has(c)).sort();
    for (const c of keep) kept.push(`${table}/${c}`);
    if (remove.length === 0 && unlink.length === 0) continue;
    parts.push(`*${table}`, ...remove.map((c) => `:${c} - [0:0]`), ...unlink, ...remove.map((c) => `-X ${c}`), 'COMMIT');
    for (const c of remove) deleted.push(`${table}/${c}`);
    unlinked += unlink.length;
  }
  return { text: parts.length > 0 ? `${parts.join('\n')}\n` : '', deleted, kept: kept.sort(), unlinked };
}
