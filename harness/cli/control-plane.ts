// kpng-harness control-plane up|down: a real etcd + kube-apiserver on loopback (the one the
// cluster tier and the lab use), left running for people and scripts: `up` starts it in a
// process of its own and prints its kubeconfig; `down` stops it and removes its files.
// The running one is described by a state file (default .cache/control-plane/state.json).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { KpngError } from '../config/index.ts';
import { families, startControlPlane, type Family } from '../lab/control-plane/index.ts';
import { processRunning } from '../lab/netns/index.ts';
import { parseOptions, usageError, type OptionSpecs } from './args.ts';
import { processGone, readStateFile, startBackgroundServer, writeStateFile } from './background-server.ts';
import type { CliContext } from './context.ts';

export const controlPlaneOptions = {
  family: { type: 'string', choices: families, default: 'ipv4', description: 'IP family of the Service CIDRs (up)' },
  state: { type: 'string', default: '.cache/control-plane/state.json', description: 'the state file of the running control plane' },
  'timeout-seconds': { type: 'string', default: '120', description: 'how long up waits for /readyz, and down for the stop' },
} as const satisfies OptionSpecs;

/** What `up` leaves behind for `down` and for people. */
export interface ControlPlaneState {
  pid: number;
  family: Family;
  kubeconfig: string;
  server: string;
  dir: string;
  log: string;
}

const verbs = ['up', 'down', 'serve'] as const;

const readState = (file: string) => readStateFile<ControlPlaneState>(file, 'KPNG_ERR_CONTROL_PLANE_STATE', 'control plane');

/** serve: run the control plane in this process until SIGTERM/SIGINT (what `up` starts). */
async function serve(family: Family, stateFile: string, ctx: CliContext): Promise<number> {
  const cp = await startControlPlane({ family, log: ctx.log });
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  const state: ControlPlaneState = { pid: process.pid, family, kubeconfig: cp.kubeconfig, server: cp.server, dir: cp.dir, log: `${stateFile}.log` };
  await writeStateFile(stateFile, state);
  ctx.log(`control plane ready at ${cp.server}`);
  await stopped;
  await cp.stop();
  await rm(stateFile, { force: true });
  ctx.log('control plane stopped');
  return 0;
}

async function up(family: Family, stateFile: string, timeoutMs: number, ctx: CliContext): Promise<number> {
  const running = await readState(stateFile);
  if (running && processRunning(running.pid)) {
    throw new KpngError('KPNG_ERR_CONTROL_PLANE_RUNNING', `a control plane is running already (pid ${running.pid}, ${running.server}); its kubeconfig: ${running.kubeconfig}; stop it with kpng-harness control-plane down`);
  }
  const server = await startBackgroundServer(['control-plane', 'serve', '--family', family], stateFile, ctx);
  ctx.log(`==> starting etcd and kube-apiserver (${family}); log: ${server.logFile}`);
  const state = await server.ready(() => readState(stateFile), Date.now() + timeoutMs);
  if (!state) {
    const exited = server.exited();
    server.terminate(true);
    throw new KpngError('KPNG_ERR_CONTROL_PLANE', `the control plane did not become ready ${exited === undefined ? `within ${timeoutMs / 1000} s` : `(it exited with ${exited})`}; its log (${server.logFile}):\n${await server.logTail(20)}`);
  }
  ctx.log(`==> ready at ${state.server} (pid ${state.pid}); stop it with: kpng-harness control-plane down`);
  ctx.out(`export KUBECONFIG=${state.kubeconfig}\n`);
  return 0;
}

async function down(stateFile: string, timeoutMs: number, ctx: CliContext): Promise<number> {
  const state = await readState(stateFile);
  if (!state || !processRunning(state.pid)) {
    await rm(stateFile, { force: true });
    ctx.log(`==> no control plane running (no live one in ${stateFile})`);
    return 0;
  }
  process.kill(state.pid, 'SIGTERM');
  if (!(await processGone(state.pid, Date.now() + timeoutMs))) {
    throw new KpngError('KPNG_ERR_CONTROL_PLANE', `pid ${state.pid} is still running ${timeoutMs / 1000} s after SIGTERM; its log: ${state.log}`);
  }
  await rm(stateFile, { force: true });
  ctx.log(`==> stopped the control plane at ${state.server}; removed ${state.dir}`);
  return 0;
}

export async function controlPlane(args: readonly string[], ctx: CliContext): Promise<number> {
  const [verb, ...rest] = args;
  if (!verbs.includes(verb as (typeof verbs)[number])) throw usageError(`control-plane: ${verb === undefined ? 'say what to do' : `unknown action ${JSON.stringify(verb)}`}; accepted: up, down`);
  const o = parseOptions(`control-plane ${verb}`, rest, controlPlaneOptions);
  const seconds = Number(o['timeout-seconds']);
  if (!Number.isFinite(seconds) || seconds <= 0) throw usageError(`control-plane: --timeout-seconds ${JSON.stringify(o['timeout-seconds'])} is not a positive number`);
  const stateFile = path.resolve(ctx.cwd, o.state ?? controlPlaneOptions.state.default);
  const family = (o.family ?? 'ipv4') as Family;
  if (verb === 'serve') return serve(family, stateFile, ctx);
  if (verb === 'up') return up(family, stateFile, seconds * 1000, ctx);
  return down(stateFile, seconds * 1000, ctx);
}
