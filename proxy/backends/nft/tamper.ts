// Reading back our fixed chains, to notice someone else's changes (see NftBackend.tampered).
// `nft list chain` of one chain stays cheap however large the table is; listing the table
// or its tables does not (the kernel's dump of 100,000 chains takes 25 s).
import type { IPFamily } from '../../model/index.ts';
import type { Runner } from '../common/index.ts';
import { nftFamily, tableName } from './names.ts';

/** `nft -a list chain`, or undefined when the chain (or the table) does not exist. */
export async function listChain(run: Runner, family: IPFamily, chain: string): Promise<string | undefined> {
  const r = await run('nft', ['-a', 'list', 'chain', nftFamily(family), tableName, chain], { timeoutMs: 30_000 });
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
