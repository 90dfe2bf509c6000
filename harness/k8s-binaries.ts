// Where the pinned Kubernetes binaries live (built or downloaded by hack/k8s-binaries.sh).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository, from harness/ (run from source) or dist/harness/ (compiled). */
export const repoRoot = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? '../../' : '../', import.meta.url));

/** The one pinned Kubernetes version, e.g. "v1.34.4" (hack/k8s-version). */
export function k8sVersion(): string {
  return readFileSync(path.join(repoRoot, 'hack/k8s-version'), 'utf8').trim();
}

/** Folder holding etcd, kube-apiserver, kube-proxy, kubectl, e2e.test, ginkgo and the netns cluster's kubelet, kube-controller-manager, kube-scheduler, agnhost, regression-issue-74839, coredns. */
export function k8sBinDir(version = k8sVersion()): string {
  return process.env.KPNG_K8S_BIN_DIR ?? path.join(repoRoot, '.cache/k8s', version, 'bin');
}

export type K8sBinary =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-proxy'
  | 'kubectl'
  | 'e2e.test'
  | 'ginkgo'
  | 'kubelet'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'agnhost'
  | 'regression-issue-74839'
  | 'coredns';

export function k8sBinary(name: K8sBinary): string {
  return path.join(k8sBinDir(), name);
}

export function haveK8sBinaries(names: K8sBinary[]): boolean {
  return names.every((name) => existsSync(k8sBinary(name)));
}
