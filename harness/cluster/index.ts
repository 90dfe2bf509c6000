// harness/cluster: kind clusters for the harness. The CIDR table per IP family, kind
// configs, the kind command lines (pure), and running them after checking the tools.
// For tests, ./testing.ts (a second door, kept apart): stand-in tools and a recording runner.
export { clusterNetworks, type ClusterNetwork } from './networks.ts';
export {
  DEFAULT_CLUSTER_NAME,
  KIND_NODE_IMAGE,
  KIND_VERSION,
  kindApiServer,
  kindConfig,
  kindConfigYaml,
  kindContext,
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
export { dockerBuildCommand, type DockerBuildCommandOptions } from './image-commands.ts';
export {
  kubectlApplyCommand,
  kubectlRolloutStatusCommand,
  type KubectlApplyOptions,
  type KubectlRolloutStatusOptions,
  type KubectlTarget,
} from './kubectl-commands.ts';
export { tiltCiCommand, tiltDownCommand, tiltUpCommand, type TiltUpOptions } from './tilt-commands.ts';
export {
  DOCKER_DAEMON_HINT,
  MissingToolError,
  hostToolRunner,
  findOnPath,
  installHint,
  requireTools,
  tools,
  type MissingTool,
  type Platform,
  type RunResult,
  type Runner,
  type RunOptions,
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
