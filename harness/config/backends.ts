// The one list of backends, IP families and deployment models the harness accepts.
// Everything that validates or iterates over them imports these.

/** Dataplane backends; the proxy's sink for each is `to-<backend>`. */
export const backends = ['iptables', 'nft', 'ipvs', 'userspace'] as const;
export type Backend = (typeof backends)[number];

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

export function isBackend(value: string): value is Backend {
  return (backends as readonly string[]).includes(value);
}

export function isIpFamily(value: string): value is IpFamily {
  return (ipFamilies as readonly string[]).includes(value);
}

export function isDeploymentModel(value: string): value is DeploymentModel {
  return (deploymentModels as readonly string[]).includes(value);
}
