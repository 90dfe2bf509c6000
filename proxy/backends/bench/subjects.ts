// The backends the benchmark knows: every subject (variant) of every registered backend
// that runs on this kernel (proxy/backends/registry.ts), keyed by subject id. Each makes a
// backend from the descriptor and the subject's flags, its kernel tools running through
// the Runner it is given (the benchmark's scratch namespace, timed).
import { mergeFlags } from '../../cli/backend-stage.ts';
import { parseFlags } from '../../cli/parse.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Backend, BackendDescriptor, BackendSubject } from '../backend.ts';
import type { Runner } from '../common/index.ts';
import { clusterCIDRs } from '../common/testing.ts';
import { registeredBackends } from '../registry.ts';
import { whyNotConfined } from '../../../harness/lab/netns/index.ts';

export interface BenchSubject {
  /** The name in the table. */
  name: string;
  create(run: Runner, logger: Logger): Backend;
}

/** A subject as the benchmark runs it: IPv4, the test cluster CIDRs (for a backend that takes them), the subject's own flags. */
export function benchSubject(d: BackendDescriptor, s: BackendSubject): BenchSubject {
  const stage = `to-${d.name}`;
  const cidrs = d.flags.some((f) => f.name === 'cluster-cidr') ? [`--cluster-cidr=${clusterCIDRs.join(',')}`] : [];
  const { values } = parseFlags(stage, mergeFlags(d.flags), [...cidrs, '--ip-families=IPv4', ...s.args]);
  return { name: s.title, create: (run, logger) => d.create(values, { logger, run }) };
}

const running = registeredBackends.filter((d) => d.proof === 'runs');

/**
 * Subjects of running backends the benchmark's scratch node cannot keep to itself on this
 * host, with why (a cgroup-scoped backend without a cgroup of the node's own would hook
 * every process of the host): never run, and named when asked for.
 */
export const leftOutOfBench: Readonly<Record<string, string>> = Object.fromEntries(
  running.flatMap((d) => {
    const why = whyNotConfined(d.scope);
    return why === undefined ? [] : d.subjects.map((s) => [s.id, `to-${d.name}: ${why}`] as const);
  }),
);

export const subjects: Record<string, BenchSubject> = Object.fromEntries(
  running.flatMap((d) => d.subjects.filter((s) => !(s.id in leftOutOfBench)).map((s) => [s.id, benchSubject(d, s)] as const)),
);

/**
 * Whether a kernel tool call that was handed an input applies rules, rather than only
 * checking them (a tamper check's `nft -c -f -`, or iptables-restore of `-C` lines).
 */
export function appliesRules(args: readonly string[], input: string | undefined): boolean {
  if (input === undefined || args.includes('-c')) return false;
  return !input.split('\n').every((l) => l === '' || l.startsWith('*') || l === 'COMMIT' || l.startsWith('-C '));
}
