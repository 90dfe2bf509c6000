// kpng-harness control-plane up|down, for real: up leaves etcd and kube-apiserver running in
// a process of their own and prints a kubeconfig that works; down stops them and removes
// their files; a second up refuses; a control plane that cannot start says why.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { k8sBinary, repoRoot } from '../k8s-binaries.ts';
import { processRunning } from '../lab/netns/index.ts';
import type { ControlPlaneState } from './control-plane.ts';
import type { CliContext } from './context.ts';
import { main } from './main.ts';

const dir = await mkdtemp(path.join(tmpdir(), 'kpng-harness-cp-'));
const stateFile = path.join(dir, 'state.json');
afterAll(async () => {
  await main(['control-plane', 'down', '--state', stateFile], context().ctx);
  await rm(dir, { recursive: true, force: true });
});

function context(env: NodeJS.ProcessEnv = process.env) {
  const out: string[] = [];
  const log: string[] = [];
  const ctx: CliContext = { cwd: dir, env, out: (t) => out.push(t), log: (l) => log.push(l), repo: repoRoot };
  return { ctx, out, log };
}


describe('kpng-harness control-plane', () => {
  it('up starts a dual-stack control plane that outlives the command; its kubeconfig works; down removes it all', async () => {
    const first = context();
    expect(await main(['control-plane', 'up', '--family', 'dual', '--state', stateFile], first.ctx), first.log.join('\n')).toBe(0);
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as ControlPlaneState;
    expect(first.out.join('')).toBe(`export KUBECONFIG=${state.kubeconfig}\n`);
    expect(processRunning(state.pid)).toBe(true);
    const dualStack = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'both', namespace: 'default' }, spec: { ipFamilyPolicy: 'RequireDualStack', ports: [{ port: 80 }] } });
    const svc = await execa(k8sBinary('kubectl'), ['create', '-f', '-', '-o', 'jsonpath={.spec.ipFamilies}'], { env: { KUBECONFIG: state.kubeconfig }, input: dualStack });
    expect(svc.stdout).toBe('["IPv4","IPv6"]');

    const second = context();
    expect(await main(['control-plane', 'up', '--state', stateFile], second.ctx)).toBe(1);
    expect(second.log.at(-1)).toMatch(new RegExp(`^KPNG_ERR_CONTROL_PLANE_RUNNING: a control plane is running already \\(pid ${state.pid}, `));

    const stop = context();
    expect(await main(['control-plane', 'down', '--state', stateFile], stop.ctx)).toBe(0);
    expect(processRunning(state.pid)).toBe(false);
    expect(existsSync(state.dir)).toBe(false);
    expect(existsSync(stateFile)).toBe(false);
    await expect(execa(k8sBinary('kubectl'), ['get', 'ns', '--request-timeout=2s'], { env: { KUBECONFIG: state.kubeconfig } })).rejects.toThrow();

    const again = context();
    expect(await main(['control-plane', 'down', '--state', stateFile], again.ctx)).toBe(0);
    expect(again.log.at(-1)).toBe(`==> no control plane running (no live one in ${stateFile})`);
  });

  it('up says why when the control plane cannot start, with the end of its log', async () => {
    const empty = await mkdtemp(path.join(dir, 'no-binaries-'));
    const broken = context({ ...process.env, KPNG_K8S_BIN_DIR: empty });
    expect(await main(['control-plane', 'up', '--state', path.join(dir, 'broken.json')], broken.ctx)).toBe(1);
    expect(broken.log.at(-1)).toMatch(/^KPNG_ERR_CONTROL_PLANE: the control plane did not become ready \(it exited with 1\); its log \(.*broken\.json\.log\):\n[\s\S]*etcd/);
  });
});
