// The backends the benchmark knows: each entry makes a backend whose kernel tools run
// through the Runner it is given (the benchmark's scratch namespace, timed). A backend
// joins with one entry here and an `npm run bench:<name>` script.
import type { Logger } from '../../runtime/log.ts';
import type { Backend } from '../backend.ts';
import type { Runner } from '../common/index.ts';
import { clusterCIDRs } from '../common/testing.ts';
import { IptablesBackend } from '../iptables/index.ts';
import { NftBackend } from '../nft/index.ts';

export interface BenchSubject {
  /** The name in the table. */
  name: string;
  create(run: Runner, logger: Logger): Backend;
}

export const subjects: Record<string, BenchSubject> = {
  'iptables-nft': { name: 'iptables (nft)', create: (run, logger) => new IptablesBackend({ logger, run, clusterCIDRs, mode: 'nft', families: ['IPv4'] }) },
  'iptables-legacy': { name: 'iptables (legacy)', create: (run, logger) => new IptablesBackend({ logger, run, clusterCIDRs, mode: 'legacy', families: ['IPv4'] }) },
  nft: { name: 'nftables', create: (run, logger) => new NftBackend({ logger, run, clusterCIDRs, families: ['IPv4'] }) },
};

/**
 * Whether a kernel tool call that was handed an input applies rules, rather than only
 * checking them (a tamper check's `nft -c -f -`, or iptables-restore of `-C` lines).
 */
export function appliesRules(args: readonly string[], input: string | undefined): boolean {
  if (input === undefined || args.includes('-c')) return false;
  return !input.split('\n').every((l) => l === '' || l.startsWith('*') || l === 'COMMIT' || l.startsWith('-C '));
}
