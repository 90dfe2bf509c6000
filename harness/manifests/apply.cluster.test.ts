// The rendered manifests against a real kube-apiserver: every backend × family × model is
// accepted by `kubectl apply --dry-run=server` (schema, defaulting, validation and admission,
// nothing stored), and the RBAC the templates grant is, as the API server evaluates it,
// exactly what a service proxy needs.
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostToolRunner, kubectlApplyCommand, runToolCommand, type Runner } from '../cluster/index.ts';
import { k8sBinDir, k8sBinary } from '../k8s-binaries.ts';
import { startControlPlane, type ControlPlane } from '../lab/control-plane/index.ts';
import { manifestMatrix } from './matrix.ts';
import { renderDocuments, renderManifests } from './render.ts';

let plane: ControlPlane;
let dir: string;
const quiet: Runner = (file, args, options) => hostToolRunner(file, args, { ...options, output: 'capture' });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-manifests-apply-'));
  plane = await startControlPlane({ family: 'dual' });
}, 180_000);
afterAll(async () => {
  await plane?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** kubectl apply (server-side dry run unless `real`) of a manifest stream; returns kubectl's stdout and stderr. */
async function apply(name: string, yaml: string, real = false): Promise<{ stdout: string; stderr: string }> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  let stderr = '';
  const run: Runner = async (bin, args, options) => {
    const result = await quiet(bin, args, options);
    stderr = result.stderr;
    return result;
  };
  const command = kubectlApplyCommand({ kubeconfig: plane.kubeconfig, file, ...(real ? {} : { dryRun: 'server' as const }) });
  // HOME: kubectl keeps its discovery cache under $HOME/.kube; keep it in the test's folder.
  const stdout = await runToolCommand(command, { env: { PATH: k8sBinDir(), HOME: dir }, run, log: () => {} });
  return { stdout, stderr };
}

const kubectl = (...args: string[]) => execa(k8sBinary('kubectl'), ['--kubeconfig', plane.kubeconfig, ...args], { reject: false, env: { HOME: dir } });

describe('kubectl apply --dry-run=server', () => {
  it('accepts the manifests of every backend × family × model, without a warning', async () => {
    // Namespaced objects are checked against their namespace, which must exist for that.
    const namespace = renderDocuments(manifestMatrix()[0]!.input).find((d) => d.kind === 'Namespace');
    await apply('namespace', namespace?.yaml ?? '', true);
    for (const { id, input } of manifestMatrix()) {
      const docs = renderDocuments(input);
      const { stdout, stderr } = await apply(id, renderManifests(input));
      const expected = docs.map((d) => `${d.kind === 'ClusterRoleBinding' || d.kind === 'ClusterRole' ? `${d.kind.toLowerCase()}.rbac.authorization.k8s.io` : d.kind === 'DaemonSet' ? 'daemonset.apps' : d.kind.toLowerCase()}/${d.name}`);
      const lines = stdout.split('\n');
      expect(lines.map((l) => l.split(' ')[0]), id).toEqual(expected);
      for (const line of lines) expect(line, id).toMatch(/ (created|configured|unchanged) \(server dry run\)$/);
      expect(stderr, id).toBe('');
    }
  });

  it('accepts the kubeconfig ConfigMap variant, and the proxy in a system namespace', async () => {
    const [entry] = manifestMatrix({ kubeconfigConfigMap: 'kpng-kubeconfig' }).filter((e) => e.id === 'nft-dual-split-process-per-node');
    const { stdout } = await apply('configmap', renderManifests(entry!.input));
    expect(stdout).toContain('configmap/kpng-kubeconfig created (server dry run)');
    const [system] = manifestMatrix({ namespace: 'kube-system' }).filter((e) => e.id === 'iptables-ipv4-single-process-per-node');
    const result = await apply('kube-system', renderManifests(system!.input));
    expect(result.stdout.split('\n').map((l) => l.split(' ')[0])).toEqual([
      'serviceaccount/kpng',
      'clusterrole.rbac.authorization.k8s.io/kpng',
      'clusterrolebinding.rbac.authorization.k8s.io/kpng',
      'daemonset.apps/kpng',
    ]);
  });

  it('would refuse a manifest the API server does not accept (the check can fail)', async () => {
    const [entry] = manifestMatrix().filter((e) => e.id === 'nft-ipv4-single-process-per-node');
    const broken = renderManifests(entry!.input).replace('hostNetwork: true', 'hostNetwork: "yes please"');
    await expect(apply('broken', broken)).rejects.toThrow(/KPNG_ERR_COMMAND_FAILED: kubectl .*apply .*--dry-run=server exited with 1:\n[\s\S]*hostNetwork/);
  });
});

describe('the RBAC the manifests grant, as the API server evaluates it', () => {
  it('lets the proxy list and watch Services, EndpointSlices and Nodes and write events, and nothing else', async () => {
    const [entry] = manifestMatrix().filter((e) => e.id === 'iptables-dual-single-process-per-node');
    const rbac = renderDocuments(entry!.input).filter((d) => d.kind !== 'DaemonSet');
    await apply('rbac', rbac.map((d) => d.yaml).join('---\n'), true);
    const as = 'system:serviceaccount:kpng-system:kpng';
    const can = async (verb: string, resource: string) => (await kubectl('auth', 'can-i', verb, resource, `--as=${as}`, '--all-namespaces')).stdout.trim();
    const allowed: [string, string][] = [
      ['list', 'services'],
      ['watch', 'services'],
      ['list', 'endpointslices.discovery.k8s.io'],
      ['watch', 'endpointslices.discovery.k8s.io'],
      ['get', 'nodes'],
      ['watch', 'nodes'],
      ['create', 'events'],
      ['create', 'events.events.k8s.io'],
    ];
    const denied: [string, string][] = [
      ['update', 'services'],
      ['delete', 'endpointslices.discovery.k8s.io'],
      ['patch', 'nodes'],
      ['list', 'pods'],
      ['get', 'secrets'],
      ['list', 'endpoints'],
      ['create', 'pods'],
    ];
    for (const [verb, resource] of allowed) expect(await can(verb, resource), `${verb} ${resource}`).toBe('yes');
    for (const [verb, resource] of denied) expect(await can(verb, resource), `${verb} ${resource}`).toBe('no');
  });
});
