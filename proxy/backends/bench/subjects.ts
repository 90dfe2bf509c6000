// The backends the benchmark knows: every subject (variant) of every registered backend
// that runs on this kernel (proxy/backends/registry.ts), keyed by subject id. Each makes a
// backend from the descriptor and the subject's flags, its kernel tools running through
// the Runner it is given (the benchmark's scratch node, timed), kept to that node as its
// scope asks: a cgroup-scoped backend gets the node's own cgroup and state folder, never
// its defaults (the cgroup2 root: every process of the host).
import { mergeFlags } from '../../cli/backend-stage.ts';
import { parseFlags } from '../../cli/parse.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Backend, BackendDescriptor, BackendScope, BackendSubject } from '../backend.ts';
import type { RunOptions, Runner } from '../common/index.ts';
import { clusterCIDRs } from '../common/testing.ts';
import { registeredBackends } from '../registry.ts';
import { errorText } from '../../errors.ts';
import { type Node, type Topology, createTopology, needsNodeCgroups, nodeScopeArgs, whyNotConfined } from '../../../harness/lab/netns/index.ts';

export interface BenchSubject {
  /** The name in the table. */
  name: string;
  /** What its dataplane acts on (the descriptor's scope). */
  scope: BackendScope;
  /** The backend, its tools run through `run`, kept to `node` as its scope asks (benchNode makes both). */
  create(run: Runner, logger: Logger, node: Node | undefined): Backend;
}

/** A subject as the benchmark runs it: IPv4, the test cluster CIDRs (for a backend that takes them), the subject's own flags, the node's own (its scope's). */
export function benchSubject(d: BackendDescriptor, s: BackendSubject): BenchSubject {
  const stage = `to-${d.name}`;
  const cidrs = d.flags.some((f) => f.name === 'cluster-cidr') ? [`--cluster-cidr=${clusterCIDRs.join(',')}`] : [];
  return {
    name: s.title,
    scope: d.scope,
    create: (run, logger, node) => {
      if (node === undefined && d.scope.kind !== 'network-namespace') {
        throw new Error(errorText('KPNG_ERR_BENCH_BACKEND', `${s.id}: to-${d.name} hooks a cgroup's sockets; it runs only on a bench node with a cgroup of its own (benchNode), never with its defaults (the cgroup2 root)`));
      }
      const { values } = parseFlags(stage, mergeFlags(d.flags), [...cidrs, '--ip-families=IPv4', ...s.args, ...(node ? nodeScopeArgs(d.scope, node) : [])]);
      return d.create(values, { logger, run });
    },
  };
}

/**
 * The benchmark's scratch node for a subject: a one-node topology (with a cgroup of the
 * node's own for a cgroup-scoped backend) and the Runner its tools run through, as its
 * proxy's would (in the node's namespace and cgroup, with the host's mounts).
 */
export async function benchNode(subject: BenchSubject, name: string): Promise<{ topology: Topology; node: Node; run: Runner }> {
  const topology = await createTopology({ family: 'ipv4', nodes: [name], nodeCgroups: needsNodeCgroups(subject.scope) });
  const node = topology.node(name);
  return { topology, node, run: node.runner({ hostMounts: true }) };
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
 * checking them (a tamper check's `nft -c -f -`, or iptables-restore of `-C` lines). An
 * input in chunks (written as it is made) is a sync's: only those are that large.
 */
export function appliesRules(args: readonly string[], opts: RunOptions | undefined): boolean {
  if (args.includes('-c')) return false;
  if (opts?.input === undefined) return opts?.inputChunks !== undefined;
  const input = opts.input;
  return !input.split('\n').every((l) => l === '' || l.startsWith('*') || l === 'COMMIT' || l.startsWith('-C '));
}
