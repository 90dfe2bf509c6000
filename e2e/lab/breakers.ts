// Breaking, on purpose, what a spec checks, in one node of a running lab: the iptables
// rules the proxy wrote for one Service are edited behind its back (it rewrites a
// Service's chains only when that Service or its endpoints change, so the edit stays).
// Used by the suite's own tests (specs-can-fail.lab.test.ts), never by a lab run.
import type { Node } from '../../harness/lab/netns/index.ts';
import { notYet, pass, type SpecContext } from '../../harness/lab/suite/index.ts';

/** The iptables flavour holding the proxy's rules on the node (the one whose save lists KUBE-SERVICES). */
async function flavour(node: Node): Promise<'nft' | 'legacy'> {
  const nft = await node.run('iptables-nft-save', ['-t', 'nat']);
  return nft.stdout.includes(':KUBE-SERVICES') ? 'nft' : 'legacy';
}

/** A rule as iptables-save prints it, with its chain and its number in that chain (from 1). */
export interface SavedRule {
  line: string;
  chain: string;
  number: number;
}

/** The rules of an iptables-save text, numbered per chain as `iptables -D CHAIN N` counts them. */
export function savedRules(save: string): SavedRule[] {
  const counts = new Map<string, number>();
  const rules: SavedRule[] = [];
  for (const line of save.split('\n')) {
    const chain = /^-A (\S+)/.exec(line)?.[1];
    if (!chain) continue;
    const number = (counts.get(chain) ?? 0) + 1;
    counts.set(chain, number);
    rules.push({ line, chain, number });
  }
  return rules;
}

/** Rules of one table that mention `needle` (in a comment). */
async function rulesMentioning(node: Node, table: 'nat' | 'filter', needle: string): Promise<SavedRule[]> {
  const save = await node.exec(`iptables-${await flavour(node)}-save`, ['-t', table]);
  return savedRules(save).filter((rule) => rule.line.includes(needle));
}

/** Deletes rules by number, the last of each chain first so that the numbers stay right. */
async function deleteRules(node: Node, table: 'nat' | 'filter', rules: readonly SavedRule[]): Promise<void> {
  for (const rule of [...rules].sort((a, b) => b.number - a.number)) await iptables(node, table, ['-D', rule.chain, String(rule.number)]);
}

async function iptables(node: Node, table: 'nat' | 'filter', args: string[]): Promise<void> {
  await node.exec(`iptables-${await flavour(node)}`, ['-w', '5', '-t', table, ...args]);
}

/** Waits until the node has rules in `table` mentioning `needle` that `enough` accepts; returns them. */
function rulesOnceProgrammed(ctx: SpecContext, node: Node, table: 'nat' | 'filter', needle: string, enough: (lines: string[]) => boolean): Promise<SavedRule[]> {
  return ctx.waitFor(`rules for ${needle} in the ${table} table of ${node.name}`, async () => {
    const rules = await rulesMentioning(node, table, needle);
    return enough(rules.map((r) => r.line)) ? pass(rules) : notYet(`${rules.length} matching rules so far`);
  });
}

/** Deletes the session affinity rules (`-m recent ... --rcheck`) of a Service port once all `endpoints` have one. */
export async function deleteAffinityRules(ctx: SpecContext, node: Node, servicePort: string, endpoints: number): Promise<number> {
  const rules = await rulesOnceProgrammed(ctx, node, 'nat', `${ctx.namespace}/${servicePort}`, (l) => l.filter((r) => r.includes('--rcheck')).length >= endpoints);
  const affinity = rules.filter((r) => r.line.includes('--rcheck'));
  await deleteRules(node, 'nat', affinity);
  return affinity.length;
}

/** Deletes the REJECT rules that answer for a Service port without endpoints. */
export async function deleteRejectRules(ctx: SpecContext, node: Node, servicePort: string): Promise<number> {
  const needle = `${ctx.namespace}/${servicePort} has no endpoints`;
  const rules = await rulesOnceProgrammed(ctx, node, 'filter', needle, (l) => l.some((r) => r.includes('-j REJECT')));
  const rejects = rules.filter((r) => r.line.includes('-j REJECT'));
  await deleteRules(node, 'filter', rejects);
  return rejects.length;
}

/**
 * Makes the node masquerade the external traffic of an externalTrafficPolicy=Local
 * Service port (the client's address is lost), once the external chain and the rule for
 * `externalIP` are in place.
 */
export async function masqueradeExternalTraffic(ctx: SpecContext, node: Node, servicePort: string, externalIP: string): Promise<string> {
  const rules = await rulesOnceProgrammed(ctx, node, 'nat', `${ctx.namespace}/${servicePort}`, (l) => l.some((r) => r.includes(externalIP)) && l.some((r) => /^-A KUBE-EXT-/.test(r)));
  const chain = rules.find((r) => r.chain.startsWith('KUBE-EXT-'))?.chain;
  if (!chain) throw new Error(`no KUBE-EXT chain for ${servicePort} on ${node.name}`);
  await iptables(node, 'nat', ['-I', chain, '1', '-j', 'KUBE-MARK-MASQ']);
  return chain;
}
