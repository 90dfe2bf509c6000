// One upstream e2e run for a backend × family on a fresh kind cluster: create it (no
// kube-proxy), load the proxy image, deploy the proxy, wait for it on every node, run the
// verified selection with ginkgo, JUnit into the results folder; on failure export the
// cluster's logs; delete the cluster unless asked to keep it.
import { execa } from 'execa';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Backend, DeploymentModel, IpFamily } from '../config/index.ts';
import {
  apiServerFromKubeconfig,
  createCluster,
  deleteCluster,
  exportLogs,
  internalKubeconfig,
  kindGetKubeconfigCommand,
  kubectlApplyCommand,
  kubectlRolloutStatusCommand,
  listClusters,
  loadImage,
  runToolCommand,
  type ClusterRunOptions,
} from '../cluster/index.ts';
import { renderDocuments } from '../manifests/index.ts';
import { ginkgoRunCommand, type ProgramCommand } from './ginkgo.ts';
import type { VerifiedSelection } from './selection.ts';

/** The kind cluster of one e2e run, as KPNG named it. */
export function e2eClusterName(family: IpFamily, backend: Backend): string {
  return `kpng-e2e-${family}-${backend}`;
}

/** The results folder of one run, under the results root: <family>-<backend> (what readParityRuns reads). */
export function e2eRunDir(resultsDir: string, family: IpFamily, backend: Backend): string {
  return path.join(resultsDir, `${family}-${backend}`);
}

/** Runs a program with its output shown and copied to `logFile`; resolves to its exit code. */
export type ProgramRunner = (command: ProgramCommand, logFile: string) => Promise<number>;

export const execaProgramRunner: ProgramRunner = async (command, logFile) => {
  const result = await execa(command.file, command.args, {
    env: command.env,
    reject: false,
    stdin: 'ignore',
    stdout: ['inherit', { file: logFile, append: true }],
    stderr: ['inherit', { file: logFile, append: true }],
  });
  return result.exitCode ?? -1;
};

export interface E2eRunOptions {
  backend: Backend;
  family: IpFamily;
  model: DeploymentModel;
  /** The proxy image, already built (kind load takes it from docker). */
  image: string;
  selection: VerifiedSelection;
  binaries: { ginkgo: string; e2eTest: string };
  /** The results root (e.g. reports/e2e); this run writes <family>-<backend>/ in it. */
  resultsDir: string;
  nodes?: number;
  keepCluster?: boolean;
  cluster?: ClusterRunOptions;
  runProgram?: ProgramRunner;
}

export interface E2eRunResult {
  clusterName: string;
  runDir: string;
  /** The specs ran and all passed. */
  passed: boolean;
  /** What stopped the run before or while the specs ran. */
  error?: Error;
  /** Where `kind export logs` put the cluster's logs (after a failure). */
  logsDir?: string;
}

export async function runE2e(options: E2eRunOptions): Promise<E2eRunResult> {
  const { backend, family } = options;
  const clusterName = e2eClusterName(family, backend);
  const runDir = e2eRunDir(options.resultsDir, family, backend);
  const cluster = options.cluster ?? {};
  const log = cluster.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runProgram = options.runProgram ?? execaProgramRunner;
  await rm(runDir, { recursive: true, force: true });
  await mkdir(runDir, { recursive: true });
  await writeFile(
    path.join(runDir, 'selection.json'),
    `${JSON.stringify({ backend, family, model: options.model, focus: options.selection.focus, skip: options.selection.skip, specs: options.selection.selected.length }, null, 2)}\n`,
  );

  if ((await listClusters(cluster)).includes(clusterName)) await deleteCluster({ name: clusterName }, cluster);
  await createCluster({ name: clusterName, family, configDir: runDir }, cluster);
  let passed = false;
  let error: Error | undefined;
  try {
    await loadImage({ name: clusterName, image: options.image }, cluster);
    const kubeconfig = path.join(runDir, 'kubeconfig');
    await writeFile(kubeconfig, await runToolCommand(kindGetKubeconfigCommand({ name: clusterName, internal: false }), cluster), { mode: 0o600 });
    const manifests = path.join(runDir, 'manifests.yaml');
    const documents = renderDocuments({
      backend,
      family,
      model: options.model,
      image: options.image,
      apiServer: apiServerFromKubeconfig(await internalKubeconfig({ name: clusterName }, cluster)),
    });
    await writeFile(manifests, documents.map((d) => d.yaml).join('---\n'));
    await runToolCommand(kubectlApplyCommand({ kubeconfig, file: manifests }), cluster);
    const daemonSet = documents.find((d) => d.kind === 'DaemonSet');
    await runToolCommand(kubectlRolloutStatusCommand({ kubeconfig, namespace: daemonSet?.namespace ?? '', daemonSet: daemonSet?.name ?? '' }), cluster);
    const command = ginkgoRunCommand({
      ginkgo: options.binaries.ginkgo,
      e2eTest: options.binaries.e2eTest,
      selection: options.selection,
      kubeconfig,
      reportDir: runDir,
      ...(options.nodes === undefined ? {} : { nodes: options.nodes }),
    });
    log(`==> running ${options.selection.selected.length} upstream specs on ${clusterName} (${backend}/${family}); output also in ${path.join(runDir, 'e2e.log')}`);
    const exitCode = await runProgram(command, path.join(runDir, 'e2e.log'));
    passed = exitCode === 0;
    log(`==> ${passed ? 'passed' : `failed (ginkgo exited with ${exitCode})`}: ${backend}/${family}; JUnit in ${runDir}`);
  } catch (caught) {
    error = caught as Error;
    log(`==> ${backend}/${family} stopped: ${error.message}`);
  }
  let logsDir: string | undefined;
  if (!passed) {
    try {
      await exportLogs({ name: clusterName, dir: path.join(runDir, 'logs') }, cluster);
      logsDir = path.join(runDir, 'logs');
    } catch (caught) {
      log(`==> could not export the logs of ${clusterName}: ${(caught as Error).message}`);
    }
  }
  if (options.keepCluster) log(`==> kept cluster ${clusterName} (kind delete cluster --name ${clusterName} removes it)`);
  else await deleteCluster({ name: clusterName }, cluster);
  return { clusterName, runDir, passed, ...(error ? { error } : {}), ...(logsDir ? { logsDir } : {}) };
}
