// Running the kind commands: tools checked first, a progress line before and after,
// failures as one error carrying the command, its exit code and its output.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { KpngError, type IpFamily } from '../config/index.ts';
import {
  commandLine,
  kindCreateClusterCommand,
  kindDeleteClusterCommand,
  kindExportLogsCommand,
  kindGetClustersCommand,
  kindGetKubeconfigCommand,
  kindLoadDockerImageCommand,
  type ToolCommand,
} from './commands.ts';
import { kindConfigYaml } from './kind-config.ts';
import { hostToolRunner, requireTools, type Platform, type RunResult, type Runner } from './tools.ts';

export interface ClusterRunOptions {
  env?: NodeJS.ProcessEnv;
  run?: Runner;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  now?: () => number;
  host?: Platform;
}

/** A command ran and failed. `result` is what it printed and how it ended. */
export class CommandFailedError extends KpngError {
  readonly command: string;
  /** undefined when it did not run to an exit (not started, timed out, killed). */
  readonly toolExitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;

  constructor(command: string, result: RunResult) {
    const tail = result.stderr.trim().split('\n').slice(-10).join('\n');
    super('KPNG_ERR_COMMAND_FAILED', `${command} ${result.exitCode === undefined ? `did not run to an exit (${result.error ?? 'killed'})` : `exited with ${result.exitCode}`}${tail ? `:\n${tail}` : ''}`);
    this.name = 'CommandFailedError';
    this.command = command;
    this.toolExitCode = result.exitCode;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

const defaultLog = (line: string) => process.stderr.write(`${line}\n`);

/** Check the tools, run the command with progress output, return its stdout. */
export async function runToolCommand(command: ToolCommand, options: ClusterRunOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const run = options.run ?? hostToolRunner;
  const log = options.log ?? defaultLog;
  const now = options.now ?? Date.now;
  const paths = await requireTools(command.needs, { env, run, ...(options.host ? { host: options.host } : {}) });
  const line = commandLine(command);
  log(`==> ${command.title}`);
  log(`    $ ${line}`);
  const started = now();
  const result = await run(paths[command.tool] ?? command.tool, command.args, { env, output: command.output });
  const seconds = ((now() - started) / 1000).toFixed(1);
  if (result.exitCode !== 0) {
    log(`==> failed after ${seconds}s (exit ${result.exitCode}): ${command.title}`);
    throw new CommandFailedError(line, result);
  }
  log(`==> done in ${seconds}s: ${command.title}`);
  return result.stdout;
}

export interface CreateClusterOptions {
  name: string;
  family: IpFamily;
  /** Where the kind config is written (default: a new temporary directory). */
  configDir?: string;
  wait?: string;
  workers?: number;
  nodeImage?: string;
  retain?: boolean;
}

/** Write the kind config for the family and create the cluster. Returns the config's path. */
export async function createCluster(options: CreateClusterOptions, run: ClusterRunOptions = {}): Promise<{ configPath: string }> {
  const dir = options.configDir ?? (await mkdtemp(path.join(tmpdir(), 'kpng-kind-')));
  await mkdir(dir, { recursive: true });
  const configPath = path.join(dir, `kind-${options.name}-${options.family}.yaml`);
  const command = kindCreateClusterCommand({
    name: options.name,
    configPath,
    ...(options.wait ? { wait: options.wait } : {}),
    ...(options.retain ? { retain: true } : {}),
  });
  await writeFile(
    configPath,
    kindConfigYaml({
      family: options.family,
      ...(options.workers === undefined ? {} : { workers: options.workers }),
      ...(options.nodeImage ? { nodeImage: options.nodeImage } : {}),
    }),
    'utf8',
  );
  await runToolCommand(command, run);
  return { configPath };
}

export async function deleteCluster(options: { name: string }, run: ClusterRunOptions = {}): Promise<void> {
  await runToolCommand(kindDeleteClusterCommand(options), run);
}

export async function loadImage(options: { name: string; image: string; nodes?: readonly string[] }, run: ClusterRunOptions = {}): Promise<void> {
  await runToolCommand(kindLoadDockerImageCommand(options), run);
}

export async function exportLogs(options: { name: string; dir: string }, run: ClusterRunOptions = {}): Promise<void> {
  await runToolCommand(kindExportLogsCommand(options), run);
}

/** The kubeconfig nodes and pods use (`kind get kubeconfig --internal`). */
export async function internalKubeconfig(options: { name: string }, run: ClusterRunOptions = {}): Promise<string> {
  return runToolCommand(kindGetKubeconfigCommand({ name: options.name, internal: true }), run);
}

export async function listClusters(run: ClusterRunOptions = {}): Promise<string[]> {
  const out = await runToolCommand(kindGetClustersCommand(), run);
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('No kind clusters'));
}

/** The API server URL of the kubeconfig's current context (for the proxy's manifests). */
export function apiServerFromKubeconfig(text: string): string {
  const fail = (why: string): never => {
    throw new KpngError('KPNG_ERR_KUBECONFIG', `cannot find the API server in the kubeconfig: ${why}`);
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    return fail(`it is not YAML (${(error as Error).message.split('\n')[0] ?? ''})`);
  }
  const config = (doc ?? {}) as {
    'current-context'?: string;
    contexts?: { name?: string; context?: { cluster?: string } }[];
    clusters?: { name?: string; cluster?: { server?: string } }[];
  };
  const clusters = config.clusters ?? [];
  const contextName = config['current-context'];
  let clusterName: string | undefined;
  if (contextName) {
    clusterName = (config.contexts ?? []).find((c) => c.name === contextName)?.context?.cluster;
    if (clusterName === undefined) fail(`the current context ${JSON.stringify(contextName)} is not among its contexts`);
  } else if (clusters.length !== 1) {
    fail('it has no current-context and not exactly one cluster');
  }
  const cluster = clusterName === undefined ? clusters[0] : clusters.find((c) => c.name === clusterName);
  const server = cluster?.cluster?.server;
  if (!server) return fail(`the cluster ${JSON.stringify(clusterName ?? cluster?.name ?? '')} has no server`);
  return server;
}
