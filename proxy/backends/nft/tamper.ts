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
import type { RunOptions, RunResult, Runner } from '../common/index.ts';
import { blamedLine } from './exec.ts';
import { clusterIPsSet, firewallIPsMap, noEndpointNodePortsMap, noEndpointServicesMap, nftFamily, nodePortIPsSet, serviceIPsMap, serviceNodePortsMap, tableName } from './names.ts';

/**
 * A reading that tells nothing: nft failed otherwise than with "No such file or directory"
 * (a dump interrupted by a transaction, a timeout). The check concludes nothing from it.
 */
export class InconclusiveReading extends Error {
  constructor(args: readonly string[], r: RunResult) {
    super(`nft ${args.join(' ')} failed (exit ${r.exitCode ?? 'none'}): ${r.stderr.trim().split('\n')[0] ?? ''}`);
    this.name = 'InconclusiveReading';
  }
}

/** Runs nft: the result when it succeeded or found what it was asked about missing; throws InconclusiveReading otherwise. */
async function read(run: Runner, args: string[], opts: RunOptions = {}): Promise<RunResult & { gone: boolean }> {
  const r = await run('nft', args, { timeoutMs: 120_000, ...opts });
  if (r.exitCode === 0) return { ...r, gone: false };
  if (/No such file or directory/.test(r.stderr)) return { ...r, gone: true };
  throw new InconclusiveReading(args, r);
}

/**
 * The maps and sets whose elements a check counts: those every packet to a Service goes
 * through. Not the hairpin set (as many elements as endpoints: listing it costs as much as
 * listing a chain) nor the affinity sets (the kernel fills them).
 */
export const checkedContainers: ReadonlySet<string> = new Set([serviceIPsMap, serviceNodePortsMap, noEndpointServicesMap, noEndpointNodePortsMap, firewallIPsMap, clusterIPsSet, nodePortIPsSet]);

/** `nft -a list chain`, or undefined when the chain (or the table) does not exist. */
export async function listChain(run: Runner, family: IPFamily, chain: string): Promise<string | undefined> {
  const r = await read(run, ['-a', 'list', 'chain', nftFamily(family), tableName, chain]);
  return r.gone ? undefined : r.stdout;
}

/** `nft -a -t list table` (sets without their elements), or undefined when the table does not exist. */
export async function listTable(run: Runner, family: IPFamily): Promise<string | undefined> {
  const r = await read(run, ['-a', '-t', 'list', 'table', nftFamily(family), tableName], { timeoutMs: 600_000 });
  return r.gone ? undefined : r.stdout;
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
  const r = await read(run, ['-j', 'list', kind, nftFamily(family), tableName, name]);
  if (r.gone) return undefined;
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
 * Returns the first rule found gone (or whose chain or table is), or undefined when all are there.
 */
export async function missingRule(run: Runner, rules: readonly RuleRef[]): Promise<RuleRef | undefined> {
  if (rules.length === 0) return undefined;
  const args = ['-c', '-f', '-'];
  const r = await read(run, args, { input: handleProbe(rules) });
  if (!r.gone) return undefined;
  const line = blamedLine(r.stderr);
  const rule = line !== undefined ? rules[line - 1] : undefined;
  if (!rule) throw new InconclusiveReading(args, r);
  return rule;
}
