// What a tamper check asks iptables-restore: `-C` (check) lines for the rules a node cannot
// work without, so that one restore per family, which changes nothing, fails (naming the
// line) when someone removed one: the jump rules from the built-in chains, the rules of
// the fixed chains (KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-FORWARD, the kubelet firewall)
// and the last rule(s) of KUBE-SERVICES. `iptables -t nat -F`, or a flush of one of these
// chains, removes at least one of them. The restore reads only what it needs, where
// iptables-save would print every Service's rules.
import { jumpRuleArgs, jumpRules, kubeletJumpRules, type SyncRecord } from './render.ts';
import { quote } from './rules.ts';

/** The iptables-restore input checking a family's key rules, as the last sync wrote them. */
export function tamperCheckInput(record: SyncRecord): string {
  const [filterHead, natHead, natTail, filter] = JSON.parse(record.fixed) as [string[], string[], string[], string[]];
  const managesKubeletFirewall = filterHead.length > 0;
  const check = (line: string) => line.replace(/^-A /, '-C ');
  const jumps = (table: 'filter' | 'nat') =>
    [...jumpRules, ...(managesKubeletFirewall ? kubeletJumpRules : [])].filter((j) => j.table === table).map((j) => `-C ${j.chain} ${jumpRuleArgs(j).map(quote).join(' ')}`);
  return ['*filter', ...jumps('filter'), ...[...filterHead, ...filter].map(check), 'COMMIT', '*nat', ...jumps('nat'), ...[...natHead, ...natTail].map(check), 'COMMIT', ''].join('\n');
}
