// harness/cluster/netns: a Kubernetes cluster without Docker — real kubelets and
// containerd in network and UTS namespaces, the control plane in a namespace of its own.
export { startNetnsCluster, stopCluster, DEFAULT_DATA_DIR, DEFAULT_RUN_DIR, type ClusterNode, type ClusterState, type NetnsCluster, type NetnsClusterOptions, type NodeScopeTemplate } from './cluster.ts';
export { clusterPlan, nodeCgroup2Template, nodeStateTemplate, MAX_NODES, type ClusterPlan, type NodePlan } from './plan.ts';
export { kubeProxyConfig, kubeconfig, nodePaths, type NodePaths } from './configs.ts';
export {
  ensureImages,
  writeDockerArchive,
  writeImageArchive,
  AGNHOST_IMAGE,
  BUSYBOX_IMAGE,
  COREDNS_IMAGE,
  DISTROLESS_IPTABLES_IMAGE,
  JESSIE_DNSUTILS_IMAGE,
  NGINX_IMAGE,
  PAUSE_IMAGE,
  REGRESSION_74839_IMAGE,
  buildableImages,
  kubeProxyImage,
  type BuiltImage,
} from './images.ts';
export { coreDnsManifests, corefile, kubeProxyManifests, kubeProxyPodConfig } from './addons.ts';
export { KUBELET_SYSCTLS, readSysctls, cgroupPids, mountsUnder, namespacesOf } from './host.ts';
export { ensureKpngImage, productionModules, KPNG_NETNS_IMAGE } from './kpng-image.ts';
