// Keeping a backend to one lab node. Every node of the lab is a network namespace on one
// host: a backend whose rules live in the proxy's network namespace is kept to its node by
// that alone. A backend that hooks the sockets of a cgroup's processes (scope 'cgroup' in
// its descriptor) is not: the nodes' processes share the host's cgroups, and started with
// its defaults it would hook the cgroup2 root, every process of the host.

/** A backend's scope, as its descriptor gives it (proxy/backends/backend.ts BackendScope, `kpng backends --json`). */
export type BackendScope = { readonly kind: 'network-namespace' } | { readonly kind: 'cgroup'; readonly cgroupFlag: string; readonly stateFlag: { readonly name: string; readonly under: string } };

/** Why this host's lab cannot give each node a cgroup of its own (undefined: it can). */
export function nodeCgroupsUnavailable(): string | undefined {
  return "the netns lab starts every node's processes in the host's own cgroups: it has no cgroup per node";
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
