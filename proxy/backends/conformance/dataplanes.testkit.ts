// The backends the dataplane conformance suite proves, and what the suite needs to know
// about each. The data comes from the registered descriptors (proxy/backends/registry.ts):
// every subject (variant) of every backend that runs on this kernel, its stage, flags,
// /proxyMode word and failure counter. What is not data lives in the backend's folder
// (conformance.testkit.ts), per subject id: how someone else would flush its rules, how to
// dump them, and (where there is a real way) how to make the kernel tool reject its input.
import { type Family, type Node, type Topology, whyNotConfined } from '../../../harness/lab/netns/index.ts';
import { errorText } from '../../errors.ts';
import { familyFromLower } from '../../model/index.ts';
import { failureMetricNames, type BackendDescriptor, type BackendScope, type BackendSubject } from '../backend.ts';
import { registeredBackends } from '../registry.ts';

export interface Dataplane {
  /** The descriptor's subject id ("iptables-nft"). */
  readonly subject: string;
  /** The suite's title for it. */
  readonly title: string;
  /** The backend's own name: what /proxyMode answers. */
  readonly proxyMode: string;
  /** The pipeline stage (`to-iptables`), and its flags for a topology (a node's own, from the scope, come on top). */
  readonly stage: string;
  args(topology: Topology): string[];
  /** What its dataplane acts on (the descriptor's): a cgroup-scoped one runs on a topology whose nodes have a cgroup each. */
  readonly scope: BackendScope;
  /**
   * Whether endpoints see the client's own address. Not for a proxy that carries the
   * traffic in its own sockets (userspace): its connections to endpoints come from the
   * node. The specs that assert the client's address run only where this holds.
   */
  readonly keepsClientAddress: boolean;
  /**
   * Whether the node's own processes and pods are balanced at the socket (a hook gives
   * their connect and sendmsg an endpoint's address) rather than per packet. Then nothing
   * of theirs is translated, so nothing needs masquerading (a pod reaching itself through
   * its Service connects to itself, from its own address), and a connection the rules
   * would drop is refused at connect instead (a hook can rewrite or refuse a connect, not
   * drop its packets). The specs that assert either run in the form that holds for it.
   */
  readonly balancesSockets: boolean;
  /** The kube-proxy counter that rises with each failed sync. */
  readonly failureCounter: string;
  /** What someone else does to wipe the backend's rules on a node (a firewall reload, `nft flush ruleset`). */
  flush(node: Node, families: readonly Family[]): Promise<void>;
  /** The rules on a node, for failure messages. */
  dump(node: Node, families: readonly Family[]): Promise<string>;
  /**
   * A real way to make the kernel tool reject the backend's input: `hold` makes something
   * else on the node depend on the rules of a Service, so that removing the Service cannot
   * be applied (until the returned function undoes it). `log` is how the rejection,
   * with the offending input line, shows in the backend's log. `persistent`: every sync
   * fails until the hold is undone (else the full sync after the failure succeeds anyway).
   */
  readonly rejection?: {
    hold(node: Node, families: readonly Family[], service: { namespace: string; name: string; port: string }): Promise<() => Promise<void>>;
    log: RegExp;
    persistent: boolean;
  };
}

const families = (fs: readonly Family[]) => fs.map(familyFromLower);

/** A node of the suite's lab, as the hooks act on it (a backend's kit reaches the lab through this folder only). */
export type SuiteNode = Node;

/**
 * What the suite does to a subject's rules from outside: everything of a Dataplane that is not
 * the descriptor's data. A backend that runs here keeps them in its folder, in
 * `conformance.testkit.ts` exporting `conformanceHooks` by subject id (test support: the
 * image's build leaves *.testkit.ts out), so joining the suite touches nothing outside it.
 */
export type ConformanceHooks = Pick<Dataplane, 'flush' | 'dump' | 'rejection'> & Partial<Pick<Dataplane, 'keepsClientAddress' | 'balancesSockets'>>;

const running = registeredBackends.filter((d) => d.proof === 'runs');

/**
 * The subjects of running backends the suite's topology cannot keep to one node on this
 * host, with why: a cgroup-scoped backend where the lab cannot give each node a cgroup of
 * its own (no cgroup2 mount). Left out of the suite, and said so when it loads; never run
 * with its defaults.
 */
export const leftOutOfSuite: Readonly<Record<string, string>> = Object.fromEntries(
  running.flatMap((d) => {
    const why = whyNotConfined(d.scope);
    return why === undefined ? [] : d.subjects.map((s) => [s.id, `to-${d.name}: ${why}`] as const);
  }),
);

const suited = running.filter((d) => d.subjects.every((s) => !(s.id in leftOutOfSuite)));

interface ConformanceKit {
  conformanceHooks?: Record<string, ConformanceHooks>;
}

const kits: readonly ConformanceKit[] = await Promise.all(suited.map(async (d) => (await import(`../${d.name}/conformance.testkit.ts`)) as ConformanceKit));

/** Every suited backend's hooks, by subject id, from proxy/backends/<name>/conformance.testkit.ts. */
const hooks: Readonly<Record<string, ConformanceHooks>> = Object.assign({}, ...kits.map((k) => k.conformanceHooks ?? {}));

/** One subject of a registered backend, as the suite runs it: `to-<name>`, the topology's CIDRs and families around the subject's flags. */
export function dataplaneOf(d: BackendDescriptor, subject: BackendSubject): Dataplane {
  const h = hooks[subject.id];
  if (!h) {
    throw new Error(
      errorText('KPNG_ERR_CONFORMANCE_SUBJECT', `${d.name}'s subject "${subject.id}" has no flush and dump for the conformance suite; accepted: a subject id with hooks in proxy/backends/${d.name}/conformance.testkit.ts (${Object.keys(hooks).join(', ')})`),
    );
  }
  return {
    subject: subject.id,
    title: subject.title,
    proxyMode: d.proxyMode,
    stage: `to-${d.name}`,
    // --cluster-cidr only for a backend that takes it.
    args: (t) => [...(d.flags.some((f) => f.name === 'cluster-cidr') ? [`--cluster-cidr=${t.clusterCidrs.join(',')}`] : []), ...subject.args, `--ip-families=${families(t.families).join(',')}`],
    scope: d.scope,
    failureCounter: failureMetricNames[d.metrics.failures][0] ?? 'kpng_sync_failures_total',
    keepsClientAddress: true,
    balancesSockets: false,
    ...h,
  };
}

/** The backends the suite runs, each in an IPv4 and an IPv6 topology: every subject of every registered backend that runs on this kernel and that the topology can keep to one node. */
export const dataplanes: readonly Dataplane[] = suited.flatMap((d) => d.subjects.map((s) => dataplaneOf(d, s)));

/** The dataplane of one subject id ("iptables-nft", "nft", ...). */
export function dataplaneFor(subjectId: string): Dataplane {
  const found = dataplanes.find((p) => p.subject === subjectId);
  if (!found) {
    const why = leftOutOfSuite[subjectId];
    throw new Error(
      errorText('KPNG_ERR_CONFORMANCE_SUBJECT', `${why === undefined ? `no registered backend that runs here has the subject "${subjectId}"` : `the subject "${subjectId}" is left out of the suite here: ${why}`}; accepted: ${dataplanes.map((p) => p.subject).join(', ')}`),
    );
  }
  return found;
}
