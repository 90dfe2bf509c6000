// kpng-harness cluster up|down: a cluster to use by hand or from scripts. `--provider netns`
// (the one this command makes): real kubelets and containerd in network namespaces on this
// machine, no Docker (harness/cluster/netns). `up` starts it in a process of its own, waits
// for every node to be Ready and prints `export KUBECONFIG=...`; `down` stops it and removes
// everything it made. The running one is described by a state file
// (default .cache/netns-cluster/state.json).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { KpngError, ipFamilies, type IpFamily } from '../config/index.ts';
import { MAX_NODES, startNetnsCluster, stopCluster, type ClusterState } from '../cluster/netns/index.ts';
import { processRunning } from '../lab/netns/index.ts';
import { parseOptions, usageError, type OptionSpecs } from './args.ts';
import { processGone, readStateFile, startBackgroundServer, writeStateFile } from './background-server.ts';
import type { CliContext } from './context.ts';

export const clusterOptions = {
  provider: { type: 'string', choices: ['netns'], default: 'netns', description: 'what the nodes are: netns (kubelet + containerd in network namespaces, no Docker)' },
  family: { type: 'string', choices: ipFamilies, default: 'ipv4', description: 'IP family of the cluster: ipv4, ipv6, or dual (both, IPv4 primary)' },
  nodes: { type: 'string', default: '2', description: `number of nodes (1 to ${MAX_NODES})` },
  proxy: { type: 'string', choices: ['none', 'kube-proxy'], default: 'none', description: 'the service proxy up deploys: none, or upstream kube-proxy as kubeadm does (then CoreDNS too)' },
  state: { type: 'string', default: '.cache/netns-cluster/state.json', description: 'the state file of the running cluster' },
  'timeout-seconds': { type: 'string', default: '300', description: 'how long up waits for Ready nodes, and down for the stop' },
} as const satisfies OptionSpecs;

/** What `up` leaves behind for `down` and for people. */
export interface ClusterCliState {
  pid: number;
  provider: 'netns';
  kubeconfig: string;
  log: string;
  cluster: ClusterState;
}

const verbs = ['up', 'down', 'serve'] as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const readState = (file: string) => readStateFile<ClusterCliState>(file, 'KPNG_ERR_NETNS_CLUSTER', 'cluster');

/** serve: start the cluster in this process and keep it until SIGTERM/SIGINT (what `up` starts). */
async function serve(nodes: number, family: IpFamily, proxy: 'none' | 'kube-proxy', stateFile: string, ctx: CliContext): Promise<number> {
  let signalled = false;
  let wake = () => {};
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      signalled = true;
      wake();
    });
  }
  const cluster = await startNetnsCluster({ nodes, family, proxy, log: ctx.log });
  if (!signalled) {
    const state: ClusterCliState = { pid: process.pid, provider: 'netns', kubeconfig: cluster.kubeconfig, log: `${stateFile}.log`, cluster: cluster.state };
    await writeStateFile(stateFile, state);
    ctx.log(`cluster ready: export KUBECONFIG=${cluster.kubeconfig}`);
    await stopped;
  }
  await cluster.stop();
  await rm(stateFile, { force: true });
  return 0;
}

async function up(nodes: number, family: IpFamily, proxy: 'none' | 'kube-proxy', stateFile: string, timeoutMs: number, ctx: CliContext): Promise<number> {
  const running = await readState(stateFile);
  if (running && processRunning(running.pid)) {
    throw new KpngError('KPNG_ERR_NETNS_CLUSTER_RUNNING', `a netns cluster is running already (pid ${running.pid}, ${running.cluster.id}); its kubeconfig: ${running.kubeconfig}; remove it with kpng-harness cluster down`);
  }
  if (running) await stopCluster(running.cluster, { log: ctx.log }); // its server died: remove what is left
  const server = await startBackgroundServer(['cluster', 'serve', '--nodes', String(nodes), '--family', family, '--proxy', proxy], stateFile, ctx);
  // Ctrl-C while it starts: the server removes what it made.
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    server.terminate();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  ctx.log(`==> starting a netns cluster of ${nodes} nodes (${family}); log: ${server.logFile}`);
  const deadline = Date.now() + timeoutMs;
  const state = await server.ready(() => readState(stateFile), deadline);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (!state) {
    server.terminate();
    while (server.exited() === undefined && Date.now() < deadline + 60_000) await sleep(250);
    const exited = server.exited();
    if (interrupted) throw new KpngError('KPNG_ERR_NETNS_CLUSTER', `interrupted: the netns cluster was removed again; its log (${server.logFile}):\n${await server.logTail(5)}`, { exitCode: 130 });
    throw new KpngError('KPNG_ERR_NETNS_CLUSTER', `the netns cluster did not become ready ${exited === undefined ? `within ${timeoutMs / 1000} s` : `(its server exited with ${exited})`}; its log (${server.logFile}):\n${await server.logTail(25)}`);
  }
  ctx.log(`==> ${state.cluster.nodes} nodes Ready (cluster ${state.cluster.id}, pid ${state.pid}); remove it with: kpng-harness cluster down`);
  ctx.out(`export KUBECONFIG=${state.kubeconfig}\n`);
  return 0;
}

async function down(stateFile: string, timeoutMs: number, ctx: CliContext): Promise<number> {
  const state = await readState(stateFile);
  if (!state) {
    ctx.log(`==> no netns cluster (no state in ${stateFile})`);
    return 0;
  }
  if (processRunning(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    await processGone(state.pid, Date.now() + timeoutMs);
  }
  // Whatever its server left (or all of it, when the server was gone): idempotent.
  await stopCluster(state.cluster, { log: ctx.log });
  await rm(stateFile, { force: true });
  await rm(state.log, { force: true });
  ctx.log(`==> removed netns cluster ${state.cluster.id}`);
  return 0;
}

export async function cluster(args: readonly string[], ctx: CliContext): Promise<number> {
  const [verb, ...rest] = args;
  if (!verbs.includes(verb as (typeof verbs)[number])) throw usageError(`cluster: ${verb === undefined ? 'say what to do' : `unknown action ${JSON.stringify(verb)}`}; accepted: up, down`);
  const o = parseOptions(`cluster ${verb}`, rest, clusterOptions);
  const seconds = Number(o['timeout-seconds']);
  if (!Number.isFinite(seconds) || seconds <= 0) throw usageError(`cluster: --timeout-seconds ${JSON.stringify(o['timeout-seconds'])} is not a positive number`);
  const nodes = Number(o.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) throw usageError(`cluster: --nodes ${JSON.stringify(o.nodes)} is not accepted; accepted: 1 to ${MAX_NODES}`);
  if ((verb === 'up' || verb === 'serve') && process.getuid?.() !== 0) throw new KpngError('KPNG_ERR_NOT_ROOT', 'cluster up makes network namespaces, cgroups and mounts: run it as root', { exitCode: 2 });
  const stateFile = path.resolve(ctx.cwd, o.state ?? clusterOptions.state.default);
  const proxy = (o.proxy ?? 'none') as 'none' | 'kube-proxy';
  const family = (o.family ?? 'ipv4') as IpFamily;
  if (verb === 'serve') return serve(nodes, family, proxy, stateFile, ctx);
  if (verb === 'up') return up(nodes, family, proxy, stateFile, seconds * 1000, ctx);
  return down(stateFile, seconds * 1000, ctx);
}
