// Inputs for every backend the proxy offers × family × deployment model, on the kind cluster's CIDRs:
// the snapshot tests render these, and the cluster tier can send them to a real
// kube-apiserver (kubectl apply --dry-run=server).
import { backendNames, deploymentModels, ipFamilies, type TiltEnv } from '../config/index.ts';
import { DEFAULT_CLUSTER_NAME, kindApiServer } from '../cluster/index.ts';
import type { ManifestInput } from './input.ts';

/** The API server as nodes of the harness's kind cluster reach it. */
export const KIND_API_SERVER = kindApiServer(DEFAULT_CLUSTER_NAME);

export interface MatrixEntry {
  /** <backend>-<family>-<model>, e.g. nft-dual-split-process-per-node. */
  id: string;
  input: ManifestInput;
}

export function manifestMatrix(overrides: Partial<ManifestInput> = {}): MatrixEntry[] {
  const entries: MatrixEntry[] = [];
  for (const backend of backendNames()) {
    for (const family of ipFamilies) {
      for (const model of deploymentModels) {
        entries.push({
          id: `${backend}-${family}-${model}`,
          input: {
            backend,
            family,
            model,
            image: 'kpng:dev',
            apiServer: KIND_API_SERVER,
            ...overrides,
          },
        });
      }
    }
  }
  return entries;
}

export interface FromTiltEnvOptions {
  /** The API server as nodes reach it (apiServerFromKubeconfig of `kind get kubeconfig --internal`). */
  apiServer: string;
  /** Another cluster's pod CIDRs; default: the table's for env.family (derived when rendering). */
  podCIDRs?: readonly string[];
}

/** The manifests tilt.env describes: its names, image and container args. */
export function manifestInputFromTiltEnv(env: TiltEnv, options: FromTiltEnvOptions): ManifestInput {
  return {
    backend: env.backend,
    family: env.family,
    model: env.model,
    image: env.image,
    imagePullPolicy: env.imagePullPolicy,
    namespace: env.namespace,
    serviceAccountName: env.serviceAccountName,
    ...(options.podCIDRs ? { podCIDRs: [...options.podCIDRs] } : {}),
    apiServer: options.apiServer,
    ...(env.configMapName === '' ? {} : { kubeconfigConfigMap: env.configMapName }),
    args: { backend: env.backendArgs, server: env.serverArgs },
  };
}
