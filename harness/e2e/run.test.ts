// The e2e run's sequence of tool commands, with the tools faked: what is created, loaded,
// applied and run, that logs are exported when it fails and the cluster is deleted either way.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { dockerDaemonUp, fakeBin, recordingRunner, type RecordedCall } from '../cluster/testing.ts';
import type { ProgramCommand } from './ginkgo.ts';
import { e2eClusterName, runE2e, type E2eRunOptions } from './run.ts';
import type { VerifiedSelection } from './selection.ts';

let dir: string;
let bin: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kpng-e2e-run-'));
  bin = await fakeBin(dir, ['docker', 'kind', 'kubectl']);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const internal = (name: string) => `apiVersion: v1
kind: Config
clusters:
- cluster: {server: 'https://${name}-control-plane:6443'}
  name: kind-${name}
contexts:
- context: {cluster: kind-${name}, user: kind-${name}}
  name: kind-${name}
current-context: kind-${name}
`;

function kindAnswers(existing: string[], failures: Partial<Record<string, number>> = {}) {
  return recordingRunner((call: RecordedCall) => {
    const tool = path.basename(call.file);
    const args = call.args.join(' ');
    if (tool === 'docker') return dockerDaemonUp;
    for (const [prefix, exitCode] of Object.entries(failures)) if (args.includes(prefix)) return { exitCode: exitCode ?? 1, stderr: `${prefix} failed` };
    if (args === 'get clusters') return { exitCode: 0, stdout: existing.join('\n') };
    if (args.startsWith('get kubeconfig') && args.endsWith('--internal')) return { exitCode: 0, stdout: internal(String(call.args[3])) };
    if (args.startsWith('get kubeconfig')) return { exitCode: 0, stdout: 'apiVersion: v1\nkind: Config\n' };
    return { exitCode: 0 };
  });
}

const selection = { focus: '\\[sig-network\\]', skip: '\\[Serial\\]', selected: [{ text: 'a', location: 'x.go:1' }] } as unknown as VerifiedSelection;

function options(over: Partial<E2eRunOptions> & { run: E2eRunOptions['cluster'] }): { opts: E2eRunOptions; programs: ProgramCommand[] } {
  const programs: ProgramCommand[] = [];
  const opts: E2eRunOptions = {
    backend: 'nft',
    family: 'dual',
    model: 'single-process-per-node',
    image: 'kpng:dev',
    selection,
    binaries: { ginkgo: '/k8s/ginkgo', e2eTest: '/k8s/e2e.test' },
    resultsDir: path.join(dir, 'results'),
    runProgram: async (command) => {
      programs.push(command);
      return 0;
    },
    ...over,
    cluster: { env: { PATH: bin }, log: () => {}, ...over.run },
  };
  return { opts, programs };
}

const sequence = (calls: RecordedCall[]) => calls.filter((c) => path.basename(c.file) !== 'docker').map((c) => `${path.basename(c.file)} ${c.args.join(' ')}`);

describe('runE2e', () => {
  it('creates the cluster, loads the image, deploys and waits for the proxy, runs ginkgo, deletes the cluster', async () => {
    const { run, calls } = kindAnswers([]);
    const { opts, programs } = options({ run: { run } });
    const result = await runE2e(opts);
    const runDir = path.join(dir, 'results', 'dual-nft');
    expect(result).toEqual({ clusterName: 'kpng-e2e-dual-nft', runDir, passed: true });
    expect(sequence(calls)).toEqual([
      'kind get clusters',
      `kind create cluster --name kpng-e2e-dual-nft --config ${runDir}/kind-kpng-e2e-dual-nft-dual.yaml --wait 5m`,
      'kind load docker-image kpng:dev --name kpng-e2e-dual-nft',
      'kind get kubeconfig --name kpng-e2e-dual-nft',
      'kind get kubeconfig --name kpng-e2e-dual-nft --internal',
      `kubectl --kubeconfig ${runDir}/kubeconfig apply --filename ${runDir}/manifests.yaml`,
      `kubectl --kubeconfig ${runDir}/kubeconfig --namespace kpng-system rollout status daemonset/kpng --timeout=5m`,
      'kind delete cluster --name kpng-e2e-dual-nft',
    ]);
    expect(programs).toEqual([
      {
        file: '/k8s/ginkgo',
        args: [
          '--nodes=8',
          '--focus=\\[sig-network\\]',
          '--skip=\\[Serial\\]',
          '--timeout=3h',
          '--no-color',
          '--silence-skips',
          '/k8s/e2e.test',
          '--',
          `--kubeconfig=${runDir}/kubeconfig`,
          '--provider=local',
          `--report-dir=${runDir}`,
          '--disable-log-dump=true',
        ],
        env: { KUBERNETES_CONFORMANCE_TEST: 'y' },
      },
    ]);
    const docs = parseAllDocuments(await readFile(path.join(runDir, 'manifests.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; spec?: { template?: { spec?: { containers?: { args: string[] }[] } } } });
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet']);
    expect(docs[4]?.spec?.template?.spec?.containers?.[0]?.args).toContain('--cluster-cidr=10.244.0.0/16,fd00:10:244::/56');
    expect(JSON.parse(await readFile(path.join(runDir, 'selection.json'), 'utf8'))).toEqual({
      backend: 'nft', family: 'dual', model: 'single-process-per-node', focus: '\\[sig-network\\]', skip: '\\[Serial\\]', specs: 1,
    });
  });

  it('exports the logs when specs fail, and still deletes the cluster', async () => {
    const { run, calls } = kindAnswers([e2eClusterName('ipv6', 'iptables')]);
    const { opts } = options({ backend: 'iptables', family: 'ipv6', run: { run }, runProgram: async () => 1 });
    const result = await runE2e(opts);
    const runDir = path.join(dir, 'results', 'ipv6-iptables');
    expect(result.passed).toBe(false);
    expect(result.logsDir).toBe(path.join(runDir, 'logs'));
    const kinds = sequence(calls);
    expect(kinds[0]).toBe('kind get clusters');
    expect(kinds[1]).toBe('kind delete cluster --name kpng-e2e-ipv6-iptables');
    expect(kinds.slice(-2)).toEqual([`kind export logs ${runDir}/logs --name kpng-e2e-ipv6-iptables`, 'kind delete cluster --name kpng-e2e-ipv6-iptables']);
  });

  it('exports the logs when the proxy never gets ready, and keeps the cluster when asked', async () => {
    const { run, calls } = kindAnswers([], { 'rollout status': 1 });
    const logs: string[] = [];
    const { opts, programs } = options({ backend: 'nft', family: 'ipv4', keepCluster: true, run: { run, log: (l) => logs.push(l) } });
    const result = await runE2e(opts);
    expect(result.passed).toBe(false);
    expect(result.error?.message).toMatch(/^KPNG_ERR_COMMAND_FAILED: kubectl .* rollout status daemonset\/kpng --timeout=5m exited with 1:\nrollout status failed$/);
    expect(programs).toEqual([]);
    expect(sequence(calls).at(-1)).toMatch(/^kind export logs .*ipv4-nft\/logs --name kpng-e2e-ipv4-nft$/);
    expect(logs.at(-1)).toBe('==> kept cluster kpng-e2e-ipv4-nft (kind delete cluster --name kpng-e2e-ipv4-nft removes it)');
  });
});
