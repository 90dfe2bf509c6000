// The interface every dataplane backend implements. Backends turn the node's view (per IP
// family, every service port with the endpoints each kind of traffic reaches) into a
// dataplane; they never re-decide which endpoints a node may use (that is the model's).
import type { FlagSpec, FlagValues } from '../cli/flags.ts';
import type { IPFamily, NodeView, ViewChanges } from '../model/index.ts';
import type { ErrorTable } from '../errors.ts';
import type { Logger } from '../runtime/log.ts';
import type { Runner } from './common/exec.ts';

export interface SyncStats {
  /** Whether this was a full sync (everything written) or a partial one. */
  full: boolean;
  /** Bytes of rule text sent to the kernel tool (restore input, nft transaction), when it applies. */
  bytes?: number;
  /** Lines of rule text sent, when it applies. */
  lines?: number;
  /** Rule counts per table, for metrics (kube-proxy's sync_proxy_rules_iptables_total{table}). */
  rulesPerTable?: Record<string, number>;
  /** Service ports left out of the dataplane: their rules cannot be written, or the kernel refused them. */
  leftOut?: readonly string[];
  /** Transactions the kernel refused during this sync before the rest was programmed (counted as kube-proxy counts restore failures). */
  refusedTransactions?: number;
}

export interface Backend {
  /** "iptables", "nftables", "ipvs", "userspace", ... (what /proxyMode answers). */
  readonly name: string;
  /** The families it programs, known after setup() (the ones asked for, or those whose tools work here). */
  readonly ipFamilies?: readonly IPFamily[];
  /** Prepare: detect tools, check the kernel. Called once before the first sync. */
  setup(): Promise<void>;
  /**
   * Program the dataplane for `view`. `changes` says what differs, per family and service
   * port, from the view of the last successful sync; undefined asks for a full sync (at
   * start, after a failure, periodically, after tampering). Throws on failure, leaving the
   * previous rules in place.
   */
  sync(view: NodeView, changes: ViewChanges | undefined): Promise<SyncStats>;
  /** Whether someone else removed or altered our rules since the last sync (→ full sync). */
  tampered?(): Promise<boolean>;
  /**
   * The process is stopping: called once by the runtime's stop, after its last sync (no
   * sync follows). For what the backend itself carries (the userspace backend drains its
   * connections); the rules stay. Absent: nothing to do.
   */
  stop?(): Promise<void>;
  /** Remove everything the backend ever created. */
  cleanup(): Promise<void>;
}

/**
 * kube-proxy's failure counters (pkg/proxy/metrics) a failed sync raises:
 * 'iptables-restore': ..._iptables_restore_failures_total (and ..._partial_restore_failures_total
 * when the sync was partial), as kube-proxy's iptables and ipvs modes count them;
 * 'nftables-sync': ..._nftables_sync_failures_total; 'none': only kpng_sync_failures_total.
 */
export type FailureMetric = 'iptables-restore' | 'nftables-sync' | 'none';

/** The metric names each FailureMetric raises. */
export const failureMetricNames: Readonly<Record<FailureMetric, readonly string[]>> = {
  'iptables-restore': ['kubeproxy_sync_proxy_rules_iptables_restore_failures_total', 'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total'],
  'nftables-sync': ['kubeproxy_sync_proxy_rules_nftables_sync_failures_total'],
  none: [],
};

/** A host path the backend's container mounts (the DaemonSet's hostPath volume). */
export interface HostMount {
  /** The volume's name in the pod (a DNS-1123 label). */
  name: string;
  /** The path on the host, mounted at the same path in the container. */
  path: string;
  /** hostPath type, e.g. 'FileOrCreate' (absent: no check). */
  type?: 'File' | 'FileOrCreate' | 'Directory' | 'DirectoryOrCreate';
  readOnly: boolean;
  /** Why the backend needs it. */
  why: string;
}

/** What the backend's pod needs from the node. The harness renders the DaemonSet from this. */
export interface PodNeeds {
  /** Run privileged (all capabilities, writable /proc/sys): only where no capability set is enough. */
  privileged: boolean;
  /** Capabilities added (everything else dropped) when not privileged, e.g. ['NET_ADMIN', 'NET_RAW']. */
  capabilities: readonly string[];
  /** Why these privileges: the tools and kernel interfaces it uses. */
  reason: string;
  hostMounts: readonly HostMount[];
  /** Debian packages the image installs for it (proxy/Dockerfile's apt-get line holds the union). */
  packages: readonly string[];
}

/**
 * What the backend's dataplane acts on, and so what a host running several nodes (the
 * netns lab, the conformance suite, the benchmarks) must give each node's proxy to keep
 * it to that node.
 * - 'network-namespace': its rules live in the network namespace the proxy runs in; a
 *   node's own namespace is enough.
 * - 'cgroup': it hooks the sockets of the processes of a cgroup2 directory and of every
 *   cgroup below it, whatever their network namespace. Each node needs a cgroup of its
 *   own holding that node's processes, passed with `cgroupFlag`, and a folder of its own
 *   for the kernel state that outlives the process, passed with `stateFlag` (a folder
 *   below `stateFlag.under`). Run with its defaults on a shared host, it would act on
 *   every process of the host: nothing runs it without both.
 */
export type BackendScope =
  | { readonly kind: 'network-namespace' }
  | {
      readonly kind: 'cgroup';
      /** Its flag naming the cgroup2 directory whose processes it serves. */
      readonly cgroupFlag: string;
      /** Its flag naming the folder of its kernel state (e.g. bpffs pins), and the file system that folder must be below. */
      readonly stateFlag: { readonly name: string; readonly under: string };
    };

/**
 * One way the conformance suite and the benchmarks run the backend: a variant with its own
 * flags (e.g. iptables' `--iptables-mode=nft` and `--iptables-mode=legacy`). Data only:
 * the suites add the topology's --cluster-cidr and --ip-families.
 */
export interface BackendSubject {
  /** Stable id, e.g. 'iptables-nft' (benchmark table key, test names). */
  id: string;
  /** Human title, e.g. 'iptables (nft)'. */
  title: string;
  /** Flags of `to-<name>` for this variant. */
  args: readonly string[];
}

/** What a backend constructor gets besides its flags. */
export interface BackendContext {
  logger: Logger;
  /** Runs the kernel tools (default: processes on this host); benchmarks pass a timed one in a scratch namespace. */
  run?: Runner;
}

/**
 * A backend's one door: everything the CLI, the runtime, the image, the test suites and
 * the harness know about it. A backend folder's index.ts exports one, and
 * proxy/backends/registry.ts lists it (one line). It imports no test code (the image
 * build leaves the conformance and bench folders out).
 */
export interface BackendDescriptor {
  /**
   * The backend's one name: its folder (proxy/backends/<name>), its stage (`to-<name>`),
   * the harness's `b=` value and the `backend` label of kpng_backend_info.
   */
  readonly name: string;
  /** What /proxyMode answers: kube-proxy's word for the mode (nft answers "nftables", as kube-proxy does). */
  readonly proxyMode: string;
  /** One line for `kpng --help` and `kpng to-<name> --help`. */
  readonly summary: string;
  /**
   * The flags it takes, besides the runtime's. Shared flags (proxy/backends/common/flags.ts,
   * proxy/runtime/flags.ts) are listed by reference, never declared again; the stage merges
   * them with the runtime's flags, one of each name.
   */
  readonly flags: readonly FlagSpec[];
  readonly metrics: {
    /** The kube-proxy mode whose metric set (pkg/proxy/metrics) it follows: 'iptables', 'nftables', 'ipvs', ... */
    readonly family: string;
    /** The kube-proxy counter a failed sync raises. */
    readonly failures: FailureMetric;
  };
  /** What its pod needs: privileges (with the reason), host mounts, image packages. */
  readonly pod: PodNeeds;
  /**
   * 'runs': proven with real packets on this kernel (netns tier, lab, e2e).
   * 'rendered-and-traced': this kernel lacks what it drives (e.g. IPVS); proven by golden
   * rule text and traces, not run here.
   */
  readonly proof: 'runs' | 'rendered-and-traced';
  /** What its dataplane acts on: a network namespace, or the processes of a cgroup (see BackendScope). */
  readonly scope: BackendScope;
  /** Its conformance and benchmark variants (at least one). */
  readonly subjects: readonly BackendSubject[];
  /**
   * The error codes only this backend uses, with what each means (its folder's errors.ts).
   * With the proxy's own table (proxy/errors.ts) they make the one table of codes.
   */
  readonly errors?: ErrorTable;
  /** The backend for these flag values (already parsed and checked); throws on a bad combination. */
  create(flags: FlagValues, ctx: BackendContext): Backend;
  /** `to-<name> --cleanup`: remove everything it ever made (default: create(...).cleanup()). */
  cleanup?(flags: FlagValues, ctx: BackendContext): Promise<void>;
}

/** A flag as `--describe` prints it (no check function). */
export interface DescribedFlag {
  name: string;
  type: FlagSpec['type'];
  description: string;
  default?: FlagSpec['default'];
  choices?: readonly string[];
  required?: boolean;
}

/** A descriptor as JSON (`kpng to-<name> --describe`, `kpng backends --json`): everything but the functions. */
export interface DescribedBackend {
  name: string;
  stage: string;
  proxyMode: string;
  summary: string;
  flags: DescribedFlag[];
  metrics: { family: string; failures: FailureMetric; failureCounters: readonly string[] };
  pod: PodNeeds;
  proof: BackendDescriptor['proof'];
  scope: BackendScope;
  subjects: readonly BackendSubject[];
  errors: ErrorTable;
}

export function describeFlag(f: FlagSpec): DescribedFlag {
  return {
    name: f.name,
    type: f.type,
    description: f.description,
    ...(f.default !== undefined && { default: f.default }),
    ...(f.choices && { choices: f.choices }),
    ...(f.required && { required: true }),
  };
}

/** The descriptor as plain data. `flags`: the stage's flags (the backend's merged with the runtime's), default the backend's own. */
export function describeBackend(d: BackendDescriptor, flags: readonly FlagSpec[] = d.flags): DescribedBackend {
  return {
    name: d.name,
    stage: `to-${d.name}`,
    proxyMode: d.proxyMode,
    summary: d.summary,
    flags: flags.map(describeFlag),
    metrics: { family: d.metrics.family, failures: d.metrics.failures, failureCounters: failureMetricNames[d.metrics.failures] },
    pod: d.pod,
    proof: d.proof,
    scope: d.scope,
    subjects: d.subjects,
    errors: d.errors ?? {},
  };
}
