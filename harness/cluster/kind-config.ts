// kind cluster configs per IP family: no kube-proxy (the proxy under test replaces it),
// one control-plane and two workers, every node on one node image pinned by digest.
import { stringify } from 'yaml';
import type { IpFamily } from '../config/index.ts';
import { clusterNetworks } from './networks.ts';

/**
 * The kind release the node image was built for (kind supports an image with the release
 * that published it; other releases are best effort). The install hint names this version.
 */
export const KIND_VERSION = 'v0.31.0';
/** Kubernetes v1.34.x for kind v0.31.0, pinned by digest as that release's notes list it. */
export const KIND_NODE_IMAGE =
  'kindest/node:v1.34.3@sha256:08497ee19eace7b4b5348db5c6a1591d7752b164530a36f855cb0f2bdcbadd48';
export const DEFAULT_CLUSTER_NAME = 'kpng-proxy';

/**
 * The API server as the nodes of a kind cluster reach it, which is what
 * `kind get kubeconfig --internal` says for a cluster with one control-plane node.
 */
export function kindApiServer(clusterName: string): string {
  return `https://${clusterName}-control-plane:6443`;
}

/** The kubeconfig context kind creates for a cluster. */
export function kindContext(clusterName: string): string {
  return `kind-${clusterName}`;
}

export interface KindNode {
  role: 'control-plane' | 'worker';
  image: string;
}

export interface KindCluster {
  kind: 'Cluster';
  apiVersion: 'kind.x-k8s.io/v1alpha4';
  networking: {
    ipFamily: IpFamily;
    kubeProxyMode: 'none';
    podSubnet: string;
    serviceSubnet: string;
  };
  nodes: KindNode[];
}

export interface KindConfigOptions {
  family: IpFamily;
  /** Worker nodes besides the control plane (default 2). */
  workers?: number;
  nodeImage?: string;
}

export function kindConfig(options: KindConfigOptions): KindCluster {
  const network = clusterNetworks[options.family];
  const image = options.nodeImage ?? KIND_NODE_IMAGE;
  const workers = options.workers ?? 2;
  return {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    networking: {
      ipFamily: options.family,
      kubeProxyMode: 'none',
      podSubnet: network.podCIDRs.join(','),
      serviceSubnet: network.serviceCIDRs.join(','),
    },
    nodes: [{ role: 'control-plane', image }, ...Array.from({ length: workers }, (): KindNode => ({ role: 'worker', image }))],
  };
}

export function kindConfigYaml(options: KindConfigOptions): string {
  return `# kind cluster for the kpng harness (ip family ${options.family}); no kube-proxy.\n${stringify(kindConfig(options))}`;
}
