// Keeping a backend to one lab node. Every node of the lab is a network namespace on one
// host: a backend whose rules live in the proxy's network namespace is kept to its node by
// that alone. A backend that hooks the sockets of a cgroup's processes (scope 'cgroup' in
// its descriptor) is not: started with its defaults it would hook the cgroup2 root, every
// process of the host. It runs only on a topology made with `nodeCgroups` (each node's
// processes and its pods' in a cgroup of the node's own), told that cgroup and a state
// folder of the node's own through the flags its scope names.
import { cgroup2Mount } from './cgroups.ts';
import type { Node } from './topology.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

/** A backend's scope, as its descriptor gives it (proxy/backends/backend.ts BackendScope, `kpng backends --json`). */
export type BackendScope = { readonly kind: 'network-namespace' } | { readonly kind: 'cgroup'; readonly cgroupFlag: string; readonly stateFlag: { readonly name: string; readonly under: string } };

/** Why this host's lab cannot give each node a cgroup of its own (undefined: it can). */
export function nodeCgroupsUnavailable(mounts?: string): string | undefined {
  if (cgroup2Mount(mounts) === undefined) return 'this host has no cgroup2 file system mounted (/proc/self/mounts), so the lab cannot give each node a cgroup of its own';
  return undefined;
}

/**
 * Why the lab cannot keep a backend of this scope to one node here, naming what it would
 * do instead (undefined: it can). `host`: why this host has no cgroup per node (default: as found here).
 */
export function whyNotConfined(scope: BackendScope, host: { nodeCgroupsMissing: string | undefined } = { nodeCgroupsMissing: nodeCgroupsUnavailable() }): string | undefined {
  const missing = host.nodeCgroupsMissing;
  if (scope.kind === 'network-namespace' || missing === undefined) return undefined;
  return `it hooks the sockets of a cgroup's processes, not a network namespace, so each lab node needs a cgroup of its own holding that node's processes (--${scope.cgroupFlag}) and a folder of its own below ${scope.stateFlag.under} (--${scope.stateFlag.name}), and ${missing}; started with its defaults it would hook the cgroup2 root, every process of this host`;
}

/** Whether a backend of this scope needs the topology made with `nodeCgroups`. */
export const needsNodeCgroups = (scope: BackendScope): boolean => scope.kind === 'cgroup';

/**
 * The flags that keep a backend of this scope to `node`: none for a network-namespace
 * one; for a cgroup-scoped one the node's cgroup and its state folder. Throws
 * KPNG_ERR_NETNS_CGROUP when the node has no cgroup of its own (never the defaults).
 */
export function nodeScopeArgs(scope: BackendScope, node: Node): string[] {
  if (scope.kind === 'network-namespace') return [];
  const cgroup = node.cgroup;
  if (cgroup === undefined) {
    throw new Error(
      harnessErrorText('KPNG_ERR_NETNS_CGROUP', `node ${node.name} has no cgroup of its own, and a backend that hooks a cgroup's sockets would act on every process of the host without one; accepted: a topology made with nodeCgroups: true`),
    );
  }
  return [`--${scope.cgroupFlag}=${cgroup}`, `--${scope.stateFlag.name}=${node.stateDir(scope.stateFlag.under)}`];
}
