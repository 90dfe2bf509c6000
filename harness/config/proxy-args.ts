// What each container of the proxy's DaemonSet is told on its command line, and the
// checks that a hand-edited argument list still fits the backend and deployment model.
// The shape is KPNG's pipeline: `kpng <source> [flags] <sink> [flags] [<backend> [flags]]`.
import { backendNames, proxyBackend, type Backend, type DeploymentModel } from './backends.ts';

/** The gRPC socket between the split model's two containers (in a shared emptyDir). */
export const SOCKET_DIR = '/k8s';
export const PROXY_SOCKET = `unix://${SOCKET_DIR}/proxy.sock`;
/** Where a kubeconfig ConfigMap is mounted, when one is used. */
export const KUBECONFIG_DIR = '/var/lib/kpng';
export const KUBECONFIG_FILE = 'kubeconfig.conf';
export const KUBECONFIG_PATH = `${KUBECONFIG_DIR}/${KUBECONFIG_FILE}`;
/** kube-proxy's ports: metrics (Prometheus) and health (/healthz, /livez). */
export const METRICS_PORT = 10249;
export const HEALTHZ_PORT = 10256;
/** Filled in by the kubelet from the env var of the same name (fieldRef spec.nodeName). */
export const NODE_NAME_ARG = '--node-name=$(NODE_NAME)';

export interface BaseProxyArgsInput {
  backend: Backend;
  model: DeploymentModel;
  /** Whether a kubeconfig is mounted at KUBECONFIG_PATH (else: the ServiceAccount's in-cluster config). */
  kubeconfig: boolean;
}

export interface ProxyArgsInput extends BaseProxyArgsInput {
  /** The cluster's pod CIDR(s), one per family. */
  podCIDRs: readonly string[];
}

/** Container args (the image's entrypoint is the `kpng` command). `server` is [] for the single model. */
export interface ProxyArgs {
  backend: string[];
  server: string[];
}

/** The flag whose value is derived from the IP family (the cluster's pod CIDRs) when a DaemonSet is rendered. */
export const CLUSTER_CIDR_FLAG = '--cluster-cidr';

/**
 * The args that do not depend on the cluster's network: what tilt.env stores. The pod
 * CIDRs follow from the IP family and are added by withClusterCIDRs when rendering.
 */
export function baseProxyArgs(input: BaseProxyArgsInput): ProxyArgs {
  const kubeconfig = input.kubeconfig ? [`--kubeconfig=${KUBECONFIG_PATH}`] : [];
  const backend = [`to-${input.backend}`, `--metrics-bind-address=0.0.0.0:${METRICS_PORT}`];
  if (input.model === 'single-process-per-node') {
    return { backend: ['kube', ...kubeconfig, 'to-local', NODE_NAME_ARG, ...backend], server: [] };
  }
  return {
    server: ['kube', ...kubeconfig, 'to-api', `--listen=${PROXY_SOCKET}`],
    backend: ['local', `--api=${PROXY_SOCKET}`, NODE_NAME_ARG, ...backend],
  };
}

/**
 * args with --cluster-cidr=<podCIDRs> right after the backend's stage (`to-<backend>`), the
 * one place it is set; only for a backend that takes it (its stage's flags, as `kpng
 * backends --json` lists them): another would refuse the flag and exit 2.
 */
export function withClusterCIDRs(args: ProxyArgs, backend: Backend, podCIDRs: readonly string[]): ProxyArgs {
  const at = args.backend.indexOf(`to-${backend}`);
  if (at < 0 || !proxyBackend(backend).flags.some((f) => `--${f.name}` === CLUSTER_CIDR_FLAG)) return args;
  const flag = `${CLUSTER_CIDR_FLAG}=${podCIDRs.join(',')}`;
  return { server: args.server, backend: [...args.backend.slice(0, at + 1), flag, ...args.backend.slice(at + 1)] };
}

/**
 * Where a cluster of several nodes on one kernel keeps a cgroup-scoped backend to each node,
 * as templates on the node's name ($(NODE_NAME), the downward API's spec.nodeName): the
 * node's cgroup2 directory and its own folder for the backend's kernel state.
 */
export interface NodeScope {
  cgroup: string;
  state: string;
}

/** What is wrong with a node scope for this backend (undefined: nothing): its state folder must lie below the folder the backend's scope names. */
export function nodeScopeProblem(backend: Backend, nodeScope: NodeScope): string | undefined {
  const { scope } = proxyBackend(backend);
  if (scope.kind !== 'cgroup') return undefined;
  const under = scope.stateFlag.under.replace(/\/+$/, '');
  if (!nodeScope.state.startsWith(`${under}/`) || nodeScope.state.split('/').includes('..')) {
    return `${JSON.stringify(nodeScope.state)} is not a folder below ${under} (--${scope.stateFlag.name} of ${backend})`;
  }
  if (!nodeScope.cgroup.startsWith('/') || nodeScope.cgroup.split('/').includes('..')) return `${JSON.stringify(nodeScope.cgroup)} is not an absolute cgroup2 directory`;
  return undefined;
}

/**
 * args with the backend's scope flags right after its stage: for a backend whose scope is a
 * cgroup (its descriptor's `scope`), --<cgroupFlag>=<nodeScope.cgroup> and
 * --<stateFlag>=<nodeScope.state>; unchanged for a backend whose rules live in the network
 * namespace (a node's namespace keeps it to the node already) or without a node scope (one
 * node per kernel: the cgroup2 root and the default folder are the node's).
 */
export function withNodeScope(args: ProxyArgs, backend: Backend, nodeScope: NodeScope | undefined): ProxyArgs {
  const { scope } = proxyBackend(backend);
  const at = args.backend.indexOf(`to-${backend}`);
  if (nodeScope === undefined || scope.kind !== 'cgroup' || at < 0) return args;
  const flags = [`--${scope.cgroupFlag}=${nodeScope.cgroup}`, `--${scope.stateFlag.name}=${nodeScope.state}`];
  return { server: args.server, backend: [...args.backend.slice(0, at + 1), ...flags, ...args.backend.slice(at + 1)] };
}

/** The full command lines: the base args plus the pod CIDRs. */
export function proxyArgs(input: ProxyArgsInput): ProxyArgs {
  return withClusterCIDRs(baseProxyArgs(input), input.backend, input.podCIDRs);
}

export interface ArgsProblem {
  which: 'backend' | 'server';
  message: string;
}

export interface ArgsCheckInput {
  backend: Backend;
  model: DeploymentModel;
  backendArgs: readonly string[];
  serverArgs: readonly string[];
  kubeconfig: boolean;
}

/** Why these argument lists do not fit the backend, model and kubeconfig choice (empty when they do). */
export function argsProblems(input: ArgsCheckInput): ArgsProblem[] {
  const problems: ArgsProblem[] = [];
  const offered = backendNames();
  const sinks = input.backendArgs.filter((arg) => arg.startsWith('to-') && offered.includes(arg.slice(3)));
  const wanted = `to-${input.backend}`;
  if (sinks.length === 0) {
    problems.push({ which: 'backend', message: `runs no backend; expected "${wanted}" among the arguments (backend is ${input.backend})` });
  } else if (sinks.some((sink) => sink !== wanted)) {
    const other = sinks.find((sink) => sink !== wanted) ?? '';
    problems.push({ which: 'backend', message: `runs "${other}" but the backend is ${input.backend}; expected "${wanted}"` });
  }
  for (const [which, list] of [['backend', input.backendArgs], ['server', input.serverArgs]] as const) {
    const given = list.find((arg) => arg === CLUSTER_CIDR_FLAG || arg.startsWith(`${CLUSTER_CIDR_FLAG}=`));
    if (given !== undefined) {
      problems.push({
        which,
        message: `passes "${given}", but ${CLUSTER_CIDR_FLAG} is derived from the IP family (the cluster's pod CIDRs) and added when the DaemonSet is rendered; remove it`,
      });
    }
  }
  const split = input.model === 'split-process-per-node';
  if (!split && input.serverArgs.length > 0) {
    problems.push({ which: 'server', message: 'must be [] for single-process-per-node (one container runs the whole pipeline)' });
  }
  if (split) {
    if (input.serverArgs.length === 0) {
      problems.push({
        which: 'server',
        message: `is empty, but split-process-per-node runs a server container; expected e.g. ['kube', 'to-api', '--listen=${PROXY_SOCKET}']`,
      });
    } else if (!input.serverArgs.includes('to-api')) {
      problems.push({ which: 'server', message: 'must run the "to-api" sink for split-process-per-node (the backend container reads from it)' });
    }
    if (input.backendArgs[0] !== 'local') {
      problems.push({
        which: 'backend',
        message: `must start with "local" for split-process-per-node (the backend container reads node-local state from ${PROXY_SOCKET})`,
      });
    }
  }
  const kubeSide = split ? 'server' : 'backend';
  const kubeArgs = split ? input.serverArgs : input.backendArgs;
  if (kubeArgs.length > 0) {
    const passes = kubeArgs.some((arg) => arg === '--kubeconfig' || arg.startsWith('--kubeconfig='));
    if (input.kubeconfig && !kubeArgs.includes(`--kubeconfig=${KUBECONFIG_PATH}`)) {
      problems.push({ which: kubeSide, message: `a kubeconfig ConfigMap is mounted, so the kube source needs "--kubeconfig=${KUBECONFIG_PATH}"` });
    } else if (!input.kubeconfig && passes) {
      problems.push({ which: kubeSide, message: 'passes --kubeconfig, but no kubeconfig ConfigMap is mounted (the ServiceAccount in-cluster config is used)' });
    }
  }
  return problems;
}

/** The flags of each proxy stage, as `kpng <stage> --help` lists them; undefined for a stage the proxy does not have. */
export type StageFlags = (stage: string) => readonly string[] | undefined;

/** The flag names `kpng <stage> --help` lists ("  --name=TYPE" or "  --name" lines). */
export function flagsFromHelp(help: string): string[] {
  return [...help.matchAll(/^ {2}--([a-z0-9][a-z0-9-]*)/gm)].map((m) => m[1]!);
}

export interface FlagProblem {
  /** The argument at fault. */
  arg: string;
  message: string;
}

/**
 * What the proxy would refuse in one container's args (and exit 2, so the DaemonSet would
 * crash-loop): a stage it does not have, a flag before any stage, a flag the stage does
 * not take. Flag values are not checked here; the proxy checks them when it starts.
 */
export function flagProblems(args: readonly string[], flagsOf: StageFlags): FlagProblem[] {
  const problems: FlagProblem[] = [];
  let stage: string | undefined;
  let flags: readonly string[] | undefined;
  for (const arg of args) {
    if (!arg.startsWith('-')) {
      stage = arg;
      flags = flagsOf(arg);
      if (flags === undefined) problems.push({ arg, message: `the proxy has no stage "${arg}" (kpng ${arg} --help fails)` });
      continue;
    }
    const name = arg.replace(/^--?/, '').split('=')[0] ?? '';
    if (stage === undefined) {
      problems.push({ arg, message: `comes before any stage; the args start with a source, e.g. kube or local` });
    } else if (flags !== undefined && name !== 'help' && !flags.includes(name)) {
      problems.push({ arg, message: `${stage} does not take --${name}; accepted: ${flags.map((f) => `--${f}`).join(', ') || 'no flags'}` });
    }
  }
  return problems;
}

