// The kind command lines the harness runs. Pure: they validate their inputs and return
// the program, its arguments, the tools it needs and a title for progress output.
import { KpngError, dns1123LabelProblem, imageRefProblem } from '../config/index.ts';
import type { Tool } from './tools.ts';

export interface ToolCommand {
  tool: Tool;
  args: string[];
  /** Tools that must be ready before it runs (kind drives docker). */
  needs: readonly Tool[];
  /** One line for progress output. */
  title: string;
  /** stream: show the output as it comes; capture: return it (e.g. a kubeconfig); inherit: the tool gets the terminal. */
  output: 'stream' | 'capture' | 'inherit';
}

const KIND_NEEDS: readonly Tool[] = ['docker', 'kind'];

/** `name` when it is a valid kind cluster name; else KPNG_ERR_CLUSTER_NAME with the accepted form. */
export function clusterName(name: string): string {
  const problem = dns1123LabelProblem(name);
  if (problem !== undefined) {
    throw new KpngError('KPNG_ERR_CLUSTER_NAME', `kind cluster name: ${problem}; accepted: lower-case letters, digits and '-', at most 63 (e.g. kpng-proxy)`);
  }
  return name;
}

/** `value` unless it is blank; else KPNG_ERR_CLUSTER_ARGUMENT naming `what`. */
export function nonEmpty(what: string, value: string): string {
  if (value.trim() === '') throw new KpngError('KPNG_ERR_CLUSTER_ARGUMENT', `${what} is empty; accepted: a path`);
  return value;
}

export interface CreateClusterCommandOptions {
  name: string;
  /** The kind config file (kindConfigYaml). */
  configPath: string;
  /** How long kind waits for the control plane to be Ready: a Go duration like 5m (default) or 300s. */
  wait?: string;
  /** Keep the node containers when creation fails, to read their logs. */
  retain?: boolean;
}

export function kindCreateClusterCommand(options: CreateClusterCommandOptions): ToolCommand {
  const wait = options.wait ?? '5m';
  if (!/^\d+(ms|s|m|h)$/.test(wait)) {
    throw new KpngError('KPNG_ERR_CLUSTER_ARGUMENT', `wait: ${JSON.stringify(wait)} is not a duration; accepted: a number and ms, s, m or h (e.g. 5m)`);
  }
  const name = clusterName(options.name);
  return {
    tool: 'kind',
    args: ['create', 'cluster', '--name', name, '--config', nonEmpty('config path', options.configPath), '--wait', wait, ...(options.retain ? ['--retain'] : [])],
    needs: KIND_NEEDS,
    title: `creating kind cluster ${name} (waiting up to ${wait} for the control plane)`,
    output: 'stream',
  };
}

export function kindDeleteClusterCommand(options: { name: string }): ToolCommand {
  const name = clusterName(options.name);
  return { tool: 'kind', args: ['delete', 'cluster', '--name', name], needs: KIND_NEEDS, title: `deleting kind cluster ${name}`, output: 'stream' };
}

export interface LoadImageCommandOptions {
  name: string;
  image: string;
  /** Only these nodes (default: all). */
  nodes?: readonly string[];
}

export function kindLoadDockerImageCommand(options: LoadImageCommandOptions): ToolCommand {
  const name = clusterName(options.name);
  const problem = imageRefProblem(options.image);
  if (problem !== undefined) throw new KpngError('KPNG_ERR_IMAGE_REF', `image: ${problem}`);
  const nodes = options.nodes && options.nodes.length > 0 ? ['--nodes', options.nodes.join(',')] : [];
  return {
    tool: 'kind',
    args: ['load', 'docker-image', options.image, '--name', name, ...nodes],
    needs: KIND_NEEDS,
    title: `loading image ${options.image} into the nodes of ${name}`,
    output: 'stream',
  };
}

export function kindExportLogsCommand(options: { name: string; dir: string }): ToolCommand {
  const name = clusterName(options.name);
  return {
    tool: 'kind',
    args: ['export', 'logs', nonEmpty('log directory', options.dir), '--name', name],
    needs: KIND_NEEDS,
    title: `exporting the logs of ${name} to ${options.dir}`,
    output: 'stream',
  };
}

export interface GetKubeconfigCommandOptions {
  name: string;
  /** The address nodes and pods use (https://<name>-control-plane:6443), not the host's port forward. Default true. */
  internal?: boolean;
}

export function kindGetKubeconfigCommand(options: GetKubeconfigCommandOptions): ToolCommand {
  const name = clusterName(options.name);
  const internal = options.internal ?? true;
  return {
    tool: 'kind',
    args: ['get', 'kubeconfig', '--name', name, ...(internal ? ['--internal'] : [])],
    needs: KIND_NEEDS,
    title: `reading the ${internal ? 'in-cluster ' : ''}kubeconfig of ${name}`,
    output: 'capture',
  };
}

export function kindGetClustersCommand(): ToolCommand {
  return { tool: 'kind', args: ['get', 'clusters'], needs: KIND_NEEDS, title: 'listing kind clusters', output: 'capture' };
}

/** The command as one shell line, for progress output and error messages. */
export function commandLine(command: Pick<ToolCommand, 'tool' | 'args'>): string {
  const quote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);
  return [command.tool, ...command.args].map(quote).join(' ');
}
