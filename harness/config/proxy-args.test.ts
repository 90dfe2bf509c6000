import { describe, expect, it } from 'vitest';
import { backendNames, deploymentModels } from './backends.ts';
import { KUBECONFIG_PATH, argsProblems, baseProxyArgs, flagProblems, flagsFromHelp, proxyArgs, withClusterCIDRs } from './proxy-args.ts';

describe('proxyArgs', () => {
  it("builds KPNG's single-process pipeline", () => {
    expect(proxyArgs({ backend: 'iptables', model: 'single-process-per-node', podCIDRs: ['10.244.0.0/16'], kubeconfig: false })).toEqual({
      backend: ['kube', 'to-local', '--node-name=$(NODE_NAME)', 'to-iptables', '--cluster-cidr=10.244.0.0/16', '--metrics-bind-address=0.0.0.0:10249'],
      server: [],
    });
  });

  it('builds the split pipeline over the shared unix socket, --kubeconfig on the kube side only', () => {
    expect(
      proxyArgs({ backend: 'nft', model: 'split-process-per-node', podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'], kubeconfig: true }),
    ).toEqual({
      server: ['kube', `--kubeconfig=${KUBECONFIG_PATH}`, 'to-api', '--listen=unix:///k8s/proxy.sock'],
      backend: [
        'local',
        '--api=unix:///k8s/proxy.sock',
        '--node-name=$(NODE_NAME)',
        'to-nft',
        '--cluster-cidr=10.244.0.0/16,fd00:10:244::/56',
        '--metrics-bind-address=0.0.0.0:10249',
      ],
    });
  });

  it('is the base args (what tilt.env stores) with --cluster-cidr right after the backend stage', () => {
    const base = baseProxyArgs({ backend: 'nft', model: 'single-process-per-node', kubeconfig: false });
    expect(base.backend.some((a) => a.startsWith('--cluster-cidr'))).toBe(false);
    expect(withClusterCIDRs({ backend: ['kube', 'to-local', 'to-nft', '--v=4'], server: [] }, 'nft', ['10.244.0.0/16', 'fd00:10:244::/56']).backend).toEqual([
      'kube',
      'to-local',
      'to-nft',
      '--cluster-cidr=10.244.0.0/16,fd00:10:244::/56',
      '--v=4',
    ]);
  });

  it('produces base argument lists argsProblems accepts, for every backend × model × kubeconfig choice', () => {
    for (const backend of backendNames()) {
      for (const model of deploymentModels) {
        for (const kubeconfig of [false, true]) {
          const args = baseProxyArgs({ backend, model, kubeconfig });
          expect(argsProblems({ backend, model, backendArgs: args.backend, serverArgs: args.server, kubeconfig })).toEqual([]);
        }
      }
    }
  });
});

describe('argsProblems', () => {
  const single = baseProxyArgs({ backend: 'iptables', model: 'single-process-per-node', kubeconfig: false });
  const split = baseProxyArgs({ backend: 'iptables', model: 'split-process-per-node', kubeconfig: false });
  const check = (over: Partial<Parameters<typeof argsProblems>[0]>) =>
    argsProblems({ backend: 'iptables', model: 'single-process-per-node', backendArgs: single.backend, serverArgs: [], kubeconfig: false, ...over }).map(
      (p) => `${p.which}: ${p.message}`,
    );

  it('catches a backend the args do not run', () => {
    expect(check({ backend: 'nft' })).toEqual(['backend: runs "to-iptables" but the backend is nft; expected "to-nft"']);
    expect(check({ backendArgs: ['kube', 'to-local'] })).toEqual(['backend: runs no backend; expected "to-iptables" among the arguments (backend is iptables)']);
  });

  it('catches server args that do not fit the model', () => {
    expect(check({ serverArgs: split.server })[0]).toMatch(/^server: must be \[\] for single-process-per-node/);
    expect(check({ model: 'split-process-per-node', backendArgs: split.backend, serverArgs: [] })[0]).toMatch(/^server: is empty/);
    expect(check({ model: 'split-process-per-node', backendArgs: single.backend, serverArgs: split.server })).toEqual([
      'backend: must start with "local" for split-process-per-node (the backend container reads node-local state from unix:///k8s/proxy.sock)',
    ]);
    expect(check({ model: 'split-process-per-node', backendArgs: split.backend, serverArgs: ['kube', 'to-file'] })[0]).toMatch(/to-api/);
  });

  it('catches a kubeconfig flag without a mounted kubeconfig, and the reverse', () => {
    expect(check({ kubeconfig: true })[0]).toMatch(/needs "--kubeconfig=\/var\/lib\/kpng\/kubeconfig.conf"/);
    expect(check({ backendArgs: ['kube', '--kubeconfig=/x', 'to-local', 'to-iptables'] })[0]).toMatch(/no kubeconfig ConfigMap is mounted/);
  });

  it('catches a --cluster-cidr: derived from the IP family, never stored beside it', () => {
    const full = proxyArgs({ backend: 'iptables', model: 'single-process-per-node', podCIDRs: ['10.244.0.0/16'], kubeconfig: false });
    expect(check({ backendArgs: full.backend })).toEqual([
      'backend: passes "--cluster-cidr=10.244.0.0/16", but --cluster-cidr is derived from the IP family (the cluster\'s pod CIDRs) and added when the DaemonSet is rendered; remove it',
    ]);
  });
});

describe('flagProblems', () => {
  const help = 'to-nft: program the node\n\n  --cluster-cidr=LIST\n      the pod CIDRs (default )\n  --masquerade-all\n      masquerade (default false)\n';
  const flags: Record<string, string[]> = { kube: ['kubeconfig'], 'to-local': ['node-name'], 'to-nft': flagsFromHelp(help) };
  const flagsOf = (stage: string) => flags[stage];

  it('reads the flag names from --help', () => {
    expect(flagsFromHelp(help)).toEqual(['cluster-cidr', 'masquerade-all']);
  });

  it('accepts what the proxy takes, and names each stage, flag and position it would refuse', () => {
    expect(flagProblems(['kube', '--kubeconfig=/k', 'to-local', '--node-name=$(NODE_NAME)', 'to-nft', '--masquerade-all', '--help'], flagsOf)).toEqual([]);
    expect(flagProblems(['--kubeconfig=/k', 'kube', 'to-locl', '--x', 'to-nft', '--node-name=n', '--cluster-cidr'], flagsOf)).toEqual([
      { arg: '--kubeconfig=/k', message: 'comes before any stage; the args start with a source, e.g. kube or local' },
      { arg: 'to-locl', message: 'the proxy has no stage "to-locl" (kpng to-locl --help fails)' },
      { arg: '--node-name=n', message: 'to-nft does not take --node-name; accepted: --cluster-cidr, --masquerade-all' },
    ]);
  });
});

