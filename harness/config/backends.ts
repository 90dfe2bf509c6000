// The backends, IP families and deployment models the harness accepts. Backends are not
// listed here: they are what the proxy offers, read from the program itself
// (`kpng backends --json`, every registered backend's descriptor), the same way the
// stages' flags are read from `kpng <stage> --help`. Everything that validates or iterates
// over backends (tilt.env, manifests, the lab, the e2e matrix, skips.yaml) asks here.
import { execFileSync } from 'node:child_process';
import { programEnv, projectNode, siblingProgram } from '../lab/netns/programs.ts';
import { KpngError } from './errors.ts';

/** A backend's name (its stage is `to-<name>`): one the proxy offers, see backendNames(). */
export type Backend = string;
/**
 * A backend as the proxy describes it (`kpng to-<name> --describe`, `kpng backends --json`:
 * its BackendDescriptor without the functions). The program's output is the contract: the
 * harness reads it, never the proxy's modules.
 */
export interface ProxyBackend {
  /** The folder, the `b=` value; the stage is `stage`, `to-<name>`. */
  name: string;
  stage: string;
  /** What /proxyMode answers (kube-proxy's word: nft answers "nftables"). */
  proxyMode: string;
  summary: string;
  /** The stage's flags (the backend's and the runtime's). */
  flags: Array<{ name: string; type: string; description: string; default?: unknown; choices?: readonly string[]; required?: boolean }>;
  metrics: { family: string; failures: string; failureCounters: readonly string[] };
  /** What its pod needs: privileges with the reason, host mounts, image packages. */
  pod: {
    privileged: boolean;
    capabilities: readonly string[];
    reason: string;
    hostMounts: ReadonlyArray<{ name: string; path: string; type?: string; readOnly: boolean; why: string }>;
    packages: readonly string[];
  };
  /** 'runs' on this kernel, or 'rendered-and-traced' (not run here). */
  proof: string;
  /**
   * What its dataplane acts on: the network namespace it runs in, or the processes of a
   * cgroup (then a lab node needs a cgroup of its own, passed with `cgroupFlag`, and a
   * folder of its own below `stateFlag.under`, passed with `stateFlag.name`).
   */
  scope: { kind: 'network-namespace' } | { kind: 'cgroup'; cgroupFlag: string; stateFlag: { name: string; under: string } };
  subjects: ReadonlyArray<{ id: string; title: string; args: readonly string[] }>;
}

/** The proxy's entry point: proxy/cli.ts from source, dist/proxy/cli.js when built. */
function proxyProgram(): string {
  return siblingProgram(import.meta.url, '../../proxy/cli');
}

/** `kpng backends --json`, parsed. Throws KPNG_ERR_PROXY_BACKENDS when the program cannot say. */
export function readProxyBackends(): ProxyBackend[] {
  let out: string;
  try {
    out = execFileSync(projectNode(), ['--disable-warning=ExperimentalWarning', proxyProgram(), 'backends', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, ...programEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 16 << 20,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new KpngError('KPNG_ERR_PROXY_BACKENDS', `kpng backends --json failed, so the harness cannot know the proxy's backends: ${(err.stderr ?? '').trim() || err.message}`);
  }
  const parsed = JSON.parse(out) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((b) => typeof b === 'object' && b !== null && typeof (b as ProxyBackend).name === 'string' && typeof (b as ProxyBackend).pod === 'object')) {
    throw new KpngError('KPNG_ERR_PROXY_BACKENDS', `kpng backends --json printed no list of backend descriptors: ${out.slice(0, 200)}`);
  }
  return parsed as ProxyBackend[];
}

let fromProgram: readonly ProxyBackend[] | undefined;
let replaced: readonly ProxyBackend[] | undefined;

/** The backends the proxy offers, in its registry's order (read from the program once per process). */
export function proxyBackends(): readonly ProxyBackend[] {
  if (replaced) return replaced;
  fromProgram ??= readProxyBackends();
  return fromProgram;
}

/**
 * Answer with `list` instead of the program's backends until the returned function is
 * called (tests: a fake descriptor, as `describeBackend` prints it).
 */
export function useProxyBackends(list: readonly ProxyBackend[]): () => void {
  const before = replaced;
  replaced = list;
  return () => {
    replaced = before;
  };
}

/** The names of the backends the proxy offers (`b=` values; the stage is `to-<name>`). */
export function backendNames(): string[] {
  return proxyBackends().map((b) => b.name);
}

/** The backend of this name, or a KPNG_ERR_NO_BACKEND naming those the proxy offers. */
export function proxyBackend(name: string): ProxyBackend {
  const found = proxyBackends().find((b) => b.name === name);
  if (!found) throw new KpngError('KPNG_ERR_NO_BACKEND', `the proxy has no backend "${name}" (no stage to-${name}); it offers: ${backendNames().join(', ') || 'none'}`, { exitCode: 2 });
  return found;
}

/** What /proxyMode answers for a backend (nft: "nftables", as kube-proxy). */
export function proxyModeOf(name: string): string {
  return proxyBackend(name).proxyMode;
}

/** Upstream kube-proxy as a harness backend: the reference every kpng backend is compared with (first in every report). */
export const KUBE_PROXY_BACKEND = 'kube-proxy';

export const ipFamilies = ['ipv4', 'ipv6', 'dual'] as const;
export type IpFamily = (typeof ipFamilies)[number];

/**
 * single-process-per-node: one container runs `kpng kube to-local to-<backend>`.
 * split-process-per-node: a server container (`kpng kube to-api`) and a backend container
 * (`kpng local to-<backend>`) in one pod, talking gRPC over a unix socket in a shared emptyDir.
 */
export const deploymentModels = ['single-process-per-node', 'split-process-per-node'] as const;
export type DeploymentModel = (typeof deploymentModels)[number];

export const imagePullPolicies = ['Always', 'IfNotPresent', 'Never'] as const;
export type ImagePullPolicy = (typeof imagePullPolicies)[number];

/** Whether the proxy offers a backend of this name. */
export function isBackend(value: string): value is Backend {
  return backendNames().includes(value);
}

export function isIpFamily(value: string): value is IpFamily {
  return (ipFamilies as readonly string[]).includes(value);
}

export function isDeploymentModel(value: string): value is DeploymentModel {
  return (deploymentModels as readonly string[]).includes(value);
}
