// The eBPF backend's nftables table in the kernel: applying transactions with nft, reading
// back how many rules and elements it holds (the tamper check), and deleting it.
import { errorText } from '../../errors.ts';
import type { Runner } from '../common/index.ts';
import { applyTransaction } from '../nft/exec.ts';
import { nftTable } from './external.ts';

export interface TableCounts {
  rules: Map<string, number>;
  elements: Map<string, number>;
}

export class NftTable {
  private readonly run: Runner;

  constructor(run: Runner) {
    this.run = run;
  }

  /** One transaction: all of it or nothing (throws KPNG_ERR_NFT_TRANSACTION with nft's complaint). */
  async apply(text: string, what: string): Promise<void> {
    if (text !== '') await applyTransaction(this.run, text, what);
  }

  /** Rules per chain and elements per set or map; undefined when the table is gone. */
  async counts(): Promise<TableCounts | undefined> {
    const r = await this.run('nft', ['-j', 'list', 'table', ...nftTable.split(' ')], { timeoutMs: 120_000 });
    if (r.exitCode !== 0) {
      if (/No such file or directory/.test(r.stderr)) return undefined;
      throw new Error(errorText('KPNG_ERR_NFT_TRANSACTION', `nft -j list table ${nftTable} failed: ${r.stderr.trim().split('\n')[0] ?? ''}; accepted: nft ≥ 1.0.1 with nf_tables`));
    }
    const doc = JSON.parse(r.stdout) as { nftables?: Array<Record<string, { name?: string; chain?: string; elem?: unknown[] }>> };
    const rules = new Map<string, number>();
    const elements = new Map<string, number>();
    for (const o of doc.nftables ?? []) {
      if (o.chain?.name) rules.set(o.chain.name, rules.get(o.chain.name) ?? 0);
      if (o.rule?.chain) rules.set(o.rule.chain, (rules.get(o.rule.chain) ?? 0) + 1);
      const c = o.set ?? o.map;
      if (c?.name) elements.set(c.name, c.elem?.length ?? 0);
    }
    return { rules, elements };
  }

  /** Deletes the table (nothing when it is not there). */
  async remove(): Promise<boolean> {
    const r = await this.run('nft', ['delete', 'table', ...nftTable.split(' ')]);
    if (r.exitCode === 0) return true;
    if (r.exitCode === undefined) return false; // nft not installed: no table either
    if (/No such file or directory/.test(r.stderr)) return false;
    throw new Error(errorText('KPNG_ERR_NFT_TRANSACTION', `nft delete table ${nftTable}: ${r.stderr.trim().split('\n')[0] ?? ''}`));
  }
}

/** What differs between the counts expected and the ones read ("" when none). */
export function countsDiffer(want: TableCounts, got: TableCounts): string {
  for (const [name, n] of want.rules) if (got.rules.get(name) !== n) return `chain ${name}: ${got.rules.get(name) ?? 'missing'} rule(s), expected ${n}`;
  for (const [name, n] of want.elements) if (got.elements.get(name) !== n) return `${name}: ${got.elements.get(name) ?? 'missing'} element(s), expected ${n}`;
  for (const name of got.rules.keys()) if (!want.rules.has(name)) return `chain ${name} is not ours`;
  return '';
}
