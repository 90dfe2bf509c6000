// e2e.test and ginkgo for the pinned Kubernetes version, as hack/k8s-binaries.sh leaves
// them (downloaded from dl.k8s.io, or built from the Go module proxy).
import { existsSync } from 'node:fs';
import { KpngError } from '../config/index.ts';
import { k8sBinary, k8sVersion, type K8sBinary } from '../k8s-binaries.ts';

export type E2eBinary = Extract<K8sBinary, 'e2e.test' | 'ginkgo'>;

export function obtainHint(names: readonly K8sBinary[]): string {
  return `run hack/k8s-binaries.sh --only ${names.join(',')} (or make k8s-binaries), which downloads them from dl.k8s.io or builds them from the Go module proxy`;
}

/** The paths of `names`; KPNG_ERR_E2E_BINARY (exit 2) naming what is missing and how to get it. */
export function requireK8sBinaries<N extends K8sBinary>(names: readonly N[]): Record<N, string> {
  const paths = Object.fromEntries(names.map((name) => [name, k8sBinary(name)])) as Record<N, string>;
  const missing = names.filter((name) => !existsSync(paths[name]));
  if (missing.length > 0) {
    throw new KpngError(
      'KPNG_ERR_E2E_BINARY',
      `${missing.join(' and ')} for Kubernetes ${k8sVersion()} ${missing.length === 1 ? 'is' : 'are'} not in ${missing.map((n) => paths[n]).join(', ')}; ${obtainHint(missing)}`,
      { exitCode: 2 },
    );
  }
  return paths;
}
