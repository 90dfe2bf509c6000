// harness/cluster: kind clusters for the harness. The CIDR table per IP family, kind
// configs, the kind command lines (pure), and running them after checking the tools.
export { clusterNetworks, type ClusterNetwork } from './networks.ts';
export {
  DEFAULT_CLUSTER_NAME,
  KIND_NODE_IMAGE,
  KIND_VERSION,
  kindConfig,
  kindConfigYaml,
  type KindCluster,
  type KindConfigOptions,
  type KindNode,
} from './kind-config.ts';
export {
  commandLine,
  kindCreateClusterCommand,
  kindDeleteClusterCommand,
  kindExportLogsCommand,
  kindGetClustersCommand,
  kindGetKubeconfigCommand,
  kindLoadDockerImageCommand,
  type CreateClusterCommandOptions,
  type GetKubeconfigCommandOptions,
  type LoadImageCommandOptions,
  type ToolCommand,
} from './commands.ts';
export {
  DOCKER_DAEMON_HINT,
  MissingToolError,
  execaRunner,
  findOnPath,
  installHint,
  requireTools,
  tools,
  type MissingTool,
  type Platform,
  type RunResult,
  type Runner,
  type RunnerOptions,
  type Tool,
  type ToolCheckOptions,
} from './tools.ts';
export {
  CommandFailedError,
  apiServerFromKubeconfig,
  createCluster,
  deleteCluster,
  exportLogs,
  internalKubeconfig,
  listClusters,
  loadImage,
  runToolCommand,
  type ClusterRunOptions,
  type CreateClusterOptions,
} from './run.ts';
