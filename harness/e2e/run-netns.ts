// One upstream e2e run on a netns cluster (harness/cluster/netns: kubelet + containerd per
// network namespace, no Docker): start it without a proxy, deploy the proxy under test the
// way a cluster would (a DaemonSet), wait for it and for CoreDNS, run the verified
// selection with ginkgo inside the control plane's namespace (where every node, pod and
// Service address is reachable), JUnit into the results folder, per-spec progress on the
// way; on failure keep the proxy's and CoreDNS's pod logs; stop the cluster unless asked
// to keep it (then: kpng-harness cluster down does not know it; Ctrl-C or the printed
// command removes it). SIGINT/SIGTERM at any point, also while the cluster starts, leave
// nothing behind: the start is aborted and removes what it made, a running cluster is
// stopped, and a removal under way is not cut short.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startNetnsCluster, type NetnsCluster, type NetnsClusterOptions } from '../cluster/netns/index.ts';
import { KpngError, KUBE_PROXY_BACKEND } from '../config/index.ts';
import { ginkgoRunCommand, type ProgramCommand } from './ginkgo.ts';
import { e2eRunDir, type ProgramRunner } from './run.ts';
import { progressRunner } from './progress.ts';
import type { VerifiedSelection } from './selection.ts';
import type { IpFamily } from '../config/index.ts';

/** The reference column: upstream kube-proxy, deployed as kubeadm does. */

export interface NetnsE2eRunOptions {
  /** kube-proxy, or a kpng backend (then `deployProxy` deploys it). */
  backend: string;
  family: IpFamily;
  selection: Pick<VerifiedSelection, 'focus' | 'skip'> & { selected: readonly unknown[] };
  binaries: { ginkgo: string; e2eTest: string; kubectl: string };
  resultsDir: string;
  /** Parallel ginkgo processes. */
  nodes?: number;
  /** Nodes of the cluster (default 3). */
  clusterNodes?: number;
  /** Deploys the proxy under test and waits for it (default for kube-proxy: its DaemonSet). */
  deployProxy?: (cluster: NetnsCluster, runDir: string) => Promise<void>;
  keepCluster?: boolean;
  /** ginkgo's suite timeout (default 3h). */
  timeout?: string;
  log?: (line: string) => void;
  runProgram?: ProgramRunner;
  /** Starts the cluster (default startNetnsCluster). */
  startCluster?: (options: NetnsClusterOptions) => Promise<NetnsCluster>;
}

export interface NetnsE2eRunResult {
  runDir: string;
  passed: boolean;
  error?: Error;
  seconds: { clusterUp?: number; proxy?: number; specs?: number };
}

/** The ginkgo command for a netns cluster: the skeleton provider, the node count, kubectl, run in the control plane's namespace. */
export function netnsGinkgoCommand(
  cluster: Pick<NetnsCluster, 'controlPlaneCommand' | 'nodeKubeconfig' | 'nodes'>,
  o: { ginkgo: string; e2eTest: string; kubectl: string; selection: Pick<VerifiedSelection, 'focus' | 'skip'>; reportDir: string; nodes?: number; timeout?: string },
): ProgramCommand {
  const command = ginkgoRunCommand({
    ginkgo: o.ginkgo,
    e2eTest: o.e2eTest,
    selection: o.selection,
    kubeconfig: cluster.nodeKubeconfig,
    reportDir: o.reportDir,
    provider: 'skeleton',
    verbose: true,
    ...(o.nodes === undefined ? {} : { nodes: o.nodes }),
    ...(o.timeout === undefined ? {} : { timeout: o.timeout }),
    extraE2eArgs: [`--num-nodes=${cluster.nodes.length}`, `--kubectl-path=${o.kubectl}`],
  });
  const [file, ...prefix] = [...cluster.controlPlaneCommand(), command.file];
  return { file: file!, args: [...prefix.slice(0), ...command.args], env: command.env };
}

async function savePodLogs(cluster: NetnsCluster, runDir: string, log: (line: string) => void): Promise<void> {
  const dir = path.join(runDir, 'logs');
  await mkdir(dir, { recursive: true });
  const r = await cluster.kubectl(['get', 'pods', '-A', '-o', 'wide'], { timeoutMs: 20_000 });
  await writeFile(path.join(dir, 'pods.txt'), r.stdout + r.stderr);
  for (const [ns, selector, name] of [
    ['kube-system', 'k8s-app=kube-proxy', 'kube-proxy'],
    ['kube-system', 'k8s-app=kube-dns', 'coredns'],
    ['kpng-system', '', 'kpng'],
  ] as const) {
    const args = ['logs', '-n', ns, ...(selector ? ['-l', selector] : ['--selector=app.kubernetes.io/name']), '--all-containers', '--prefix', '--tail=-1'];
    const logs = await cluster.kubectl(args, { timeoutMs: 30_000 });
    if (logs.stdout.trim()) await writeFile(path.join(dir, `${name}.log`), logs.stdout);
  }
  log(`==> pod list and proxy logs in ${dir}`);
}

export async function runNetnsE2e(options: NetnsE2eRunOptions): Promise<NetnsE2eRunResult> {
  const { backend, family } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runDir = e2eRunDir(options.resultsDir, family, backend);
  const seconds: NetnsE2eRunResult['seconds'] = {};
  await rm(runDir, { recursive: true, force: true });
  await mkdir(runDir, { recursive: true });
  await writeFile(
    path.join(runDir, 'selection.json'),
    `${JSON.stringify({ backend, family, cluster: 'netns', focus: options.selection.focus, skip: options.selection.skip, specs: options.selection.selected.length }, null, 2)}\n`,
  );
  let t = Date.now();
  // SIGINT/SIGTERM while the cluster starts: the start stops and removes what it made; later: stop it, exit 130.
  // Handled once: a second signal while removing does not cut the removal short.
  const interrupt = new AbortController();
  let started: NetnsCluster | undefined;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    log(`==> ${signal}: removing the netns cluster`);
    if (started) void started.stop().finally(() => process.exit(130));
    else interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const interruptedStart = (cause?: unknown) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    return new KpngError('KPNG_ERR_NETNS_CLUSTER', `interrupted while the netns cluster for ${backend}/${family} started; what it made is removed`, { exitCode: 130, ...(cause === undefined ? {} : { cause }) });
  };
  const startCluster = options.startCluster ?? startNetnsCluster;
  try {
    started = await startCluster({ nodes: options.clusterNodes ?? 3, family, proxy: 'none', log: (line) => log(`    ${line}`), signal: interrupt.signal });
  } catch (caught) {
    if (interrupt.signal.aborted) throw interruptedStart(caught);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    throw caught;
  }
  const cluster = started;
  if (interrupt.signal.aborted) {
    // The signal came as the start returned.
    await cluster.stop();
    throw interruptedStart();
  }
  seconds.clusterUp = (Date.now() - t) / 1000;
  let passed = false;
  let error: Error | undefined;
  try {
    t = Date.now();
    if (options.deployProxy) await options.deployProxy(cluster, runDir);
    else if (backend === KUBE_PROXY_BACKEND) await cluster.deployKubeProxy();
    else throw new Error(`no way to deploy ${backend} on a netns cluster was given`);
    await cluster.waitForDns();
    seconds.proxy = (Date.now() - t) / 1000;
    const command = netnsGinkgoCommand(cluster, { ...options.binaries, selection: options.selection, reportDir: runDir, ...(options.nodes === undefined ? {} : { nodes: options.nodes }), ...(options.timeout === undefined ? {} : { timeout: options.timeout }) });
    log(`==> running ${options.selection.selected.length} upstream specs on netns cluster ${cluster.id} (${cluster.nodes.length} nodes, ${backend}/${family}); output in ${path.join(runDir, 'e2e.log')}`);
    t = Date.now();
    const runProgram = options.runProgram ?? progressRunner({ total: options.selection.selected.length, log });
    const exitCode = await runProgram(command, path.join(runDir, 'e2e.log'));
    seconds.specs = (Date.now() - t) / 1000;
    passed = exitCode === 0;
    log(`==> ${passed ? 'passed' : `failed (ginkgo exited with ${exitCode})`}: ${backend}/${family} in ${seconds.specs.toFixed(0)} s; JUnit in ${runDir}`);
  } catch (caught) {
    error = caught as Error;
    log(`==> ${backend}/${family} stopped: ${error.message}`);
  }
  if (!passed) await savePodLogs(cluster, runDir, log).catch((e: unknown) => log(`==> could not save the pod logs: ${String(e)}`));
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await writeFile(path.join(runDir, 'times.json'), `${JSON.stringify(seconds, null, 2)}\n`);
  if (options.keepCluster) {
    log(`==> keeping netns cluster ${cluster.id} until Ctrl-C: export KUBECONFIG=${cluster.kubeconfig}`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  }
  // A signal now would end the process half way through the removal: it is held off instead.
  const holdOff = () => log('==> removing the netns cluster; it ends by itself');
  process.on('SIGINT', holdOff);
  process.on('SIGTERM', holdOff);
  try {
    await cluster.stop();
  } finally {
    process.off('SIGINT', holdOff);
    process.off('SIGTERM', holdOff);
  }
  return { runDir, passed, ...(error ? { error } : {}), seconds };
}
