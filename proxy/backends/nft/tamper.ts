// Noticing that someone else changed our tables, cheaply (a few `nft list` calls, none
// of whose output grows with the number of Services):
// - each table's handle, from `nft -j list tables`: a table deleted (`nft delete table`,
//   `nft flush ruleset`) or deleted and re-created (a restored ruleset) has none or a new one;
// - the fixed chains (base chains, dispatch and check chains), a few per check in turn,
//   from `nft -a list chain`: the number of rules must be the number we wrote (catches
//   `nft flush table`, a rule deleted or added), and the listing, rule handles included,
//   must equal the one first seen after our last full sync (catches a rule replaced, a
//   base chain re-created with another hook or priority).
// Per-service chains and map elements are not checked (that would cost as much as the
// ruleset is large): the periodic full sync rewrites them.
import type { IPFamily } from '../../model/index.ts';
import type { Runner } from './exec.ts';
import { nftFamily, tableName } from './names.ts';

/** Our tables' handles by family, from `nft -j list tables`; a family missing has no table. */
export async function tableHandles(run: Runner): Promise<Map<IPFamily, number>> {
  const r = await run('nft', ['-j', 'list', 'tables'], { timeoutMs: 10_000 });
  if (r.exitCode !== 0) throw new Error(`nft -j list tables: exit code ${r.exitCode ?? 'unknown'}: ${r.stderr.trim()}`);
  return parseTableHandles(r.stdout);
}

export function parseTableHandles(json: string): Map<IPFamily, number> {
  const out = new Map<IPFamily, number>();
  const doc = JSON.parse(json) as { nftables?: Array<{ table?: { family?: string; name?: string; handle?: number } }> };
  for (const item of doc.nftables ?? []) {
    const t = item.table;
    if (!t || t.name !== tableName || typeof t.handle !== 'number') continue;
    if (t.family === 'ip') out.set('IPv4', t.handle);
    else if (t.family === 'ip6') out.set('IPv6', t.handle);
  }
  return out;
}

/** `nft -a list chain`, or undefined when the chain (or the table) does not exist. */
export async function listChain(run: Runner, family: IPFamily, chain: string): Promise<string | undefined> {
  const r = await run('nft', ['-a', 'list', 'chain', nftFamily(family), tableName, chain], { timeoutMs: 10_000 });
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** Rules in a `nft -a list chain` listing: the lines with a handle, but the table's and the chain's. */
export function rulesInListing(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.includes('# handle ') || t.startsWith('table ') || t.startsWith('chain ')) continue;
    n++;
  }
  return n;
}
