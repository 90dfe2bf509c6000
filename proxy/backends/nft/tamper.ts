// Reading back what someone else may have changed in our tables (see NftBackend.tampered),
// with commands whose cost stays small however many Services there are:
// - the elements of the maps and sets that dispatch every packet (`nft -j list map|set`:
//   one object, its own elements only), counted;
// - every rule of the fixed chains, by handle, in one transaction nft checks and throws
//   away (`nft -c -f -` of `delete rule ... handle N`): refused when one is gone;
// - fixed chains listed in full (`nft -a list chain`), compared with their listing after
//   our last full sync. nft 1.0 reads every set's elements to list one chain (2-3 s at
//   10,000 Services × 10 endpoints), so a check lists one chain, in turn; the first check
//   after a full sync learns them all (and their rules' handles) from one
//   `nft -a -t list table` per family instead (~17 s there, where 16 chains cost ~50 s).
import type { IPFamily } from '../../model/index.ts';
import type { Runner } from '../common/index.ts';
import { blamedLine } from './exec.ts';
import { clusterIPsSet, firewallIPsMap, noEndpointNodePortsMap, noEndpointServicesMap, nftFamily, nodePortIPsSet, serviceIPsMap, serviceNodePortsMap, tableName } from './names.ts';

/**
 * The maps and sets whose elements a check counts: those every packet to a Service goes
 * through. Not the hairpin set (as many elements as endpoints: listing it costs as much as
 * listing a chain) nor the affinity sets (the kernel fills them).
 */
export const checkedContainers: ReadonlySet<string> = new Set([serviceIPsMap, serviceNodePortsMap, noEndpointServicesMap, noEndpointNodePortsMap, firewallIPsMap, clusterIPsSet, nodePortIPsSet]);

/** `nft -a list chain`, or undefined when the chain (or the table) does not exist. */
export async function listChain(run: Runner, family: IPFamily, chain: string): Promise<string | undefined> {
  const r = await run('nft', ['-a', 'list', 'chain', nftFamily(family), tableName, chain], { timeoutMs: 30_000 });
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** `nft -a -t list table` (sets without their elements), or undefined when the table does not exist. */
export async function listTable(run: Runner, family: IPFamily): Promise<string | undefined> {
  const r = await run('nft', ['-a', '-t', 'list', 'table', nftFamily(family), tableName], { timeoutMs: 120_000 });
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** The chains of a `nft -a list chain|table` listing: name → its block, from `chain NAME {` to its `}`. */
export function chainBlocks(listing: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  for (const line of listing.split('\n')) {
    const open = /^\tchain (\S+) \{/.exec(line);
    if (open) {
      name = open[1]!;
      lines = [line];
    } else if (name !== undefined) {
      lines.push(line);
      if (line === '\t}') {
        out.set(name, lines.join('\n'));
        name = undefined;
      }
    }
  }
  return out;
}

/** The handles of the rules in a `nft -a list chain` listing, in order. */
export function ruleHandles(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    const m = / # handle (\d+)$/.exec(t);
    if (!m || t.startsWith('table ') || t.startsWith('chain ')) continue;
    out.push(Number(m[1]));
  }
  return out;
}

/** The elements of a map or set (`nft -j list`), or undefined when it (or the table) does not exist. */
export async function countElements(run: Runner, family: IPFamily, kind: 'set' | 'map', name: string): Promise<number | undefined> {
  const r = await run('nft', ['-j', 'list', kind, nftFamily(family), tableName, name], { timeoutMs: 30_000 });
  if (r.exitCode !== 0) return undefined;
  const doc = JSON.parse(r.stdout) as { nftables?: Array<Record<string, { elem?: unknown[] } | undefined>> };
  const obj = doc.nftables?.find((o) => o[kind] !== undefined)?.[kind];
  return obj ? (obj.elem?.length ?? 0) : undefined;
}

export interface RuleRef {
  family: IPFamily;
  chain: string;
  handle: number;
}

/** A transaction deleting these rules by handle: nft refuses it (and names the line) when one is gone. */
export function handleProbe(rules: readonly RuleRef[]): string {
  return rules.map((r) => `delete rule ${nftFamily(r.family)} ${tableName} ${r.chain} handle ${r.handle}\n`).join('');
}

/**
 * Checks that every rule in `rules` still exists, changing nothing (`nft -c -f -`).
 * Returns the first rule found gone, or undefined when all are there.
 */
export async function missingRule(run: Runner, rules: readonly RuleRef[]): Promise<RuleRef | { unknown: string } | undefined> {
  if (rules.length === 0) return undefined;
  const r = await run('nft', ['-c', '-f', '-'], { input: handleProbe(rules), timeoutMs: 30_000 });
  if (r.exitCode === 0) return undefined;
  const line = blamedLine(r.stderr);
  return (line !== undefined ? rules[line - 1] : undefined) ?? { unknown: r.stderr.trim() };
}
