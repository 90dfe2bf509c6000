import { describe, expect, it } from 'vitest';
import { netnsGinkgoCommand } from './run-netns.ts';

describe('netnsGinkgoCommand', () => {
  it('runs ginkgo in the control plane’s namespace against the skeleton provider, with the node count, kubectl and per-spec (-v) output', () => {
    const cluster = { controlPlaneCommand: () => ['nsenter', '--net=/run/netns/kc00aa-cp', '--'], nodeKubeconfig: '/var/lib/c/node-admin.kubeconfig', nodes: [{}, {}, {}] as never };
    const c = netnsGinkgoCommand(cluster, { ginkgo: '/b/ginkgo', e2eTest: '/b/e2e.test', kubectl: '/b/kubectl', selection: { focus: 'basic endpoint', skip: '\\[Serial\\]' }, reportDir: '/r', nodes: 4, timeout: '25m' });
    expect(c.file).toBe('nsenter');
    expect(c.args.slice(0, 3)).toEqual(['--net=/run/netns/kc00aa-cp', '--', '/b/ginkgo']);
    expect(c.args).toEqual(expect.arrayContaining(['--nodes=4', '--focus=basic endpoint', '--skip=\\[Serial\\]', '--timeout=25m', '-v', '/b/e2e.test']));
    const e2eArgs = c.args.slice(c.args.indexOf('--') + 1).slice(c.args.slice(c.args.indexOf('--') + 1).indexOf('--') + 1);
    expect(e2eArgs).toEqual(['--kubeconfig=/var/lib/c/node-admin.kubeconfig', '--provider=skeleton', '--report-dir=/r', '--disable-log-dump=true', '--num-nodes=3', '--kubectl-path=/b/kubectl']);
    expect(c.env).toEqual({ KUBERNETES_CONFORMANCE_TEST: 'y' });
  });
});
