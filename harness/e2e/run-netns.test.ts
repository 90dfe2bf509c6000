import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NetnsCluster } from '../cluster/netns/index.ts';
import { netnsGinkgoCommand, runNetnsE2e } from './run-netns.ts';

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

describe('runNetnsE2e on a signal while the cluster starts', () => {
  const options = (resultsDir: string) => ({
    backend: 'iptables',
    family: 'ipv4' as const,
    selection: { focus: 'x', skip: '', selected: ['x'] },
    binaries: { ginkgo: '/b/ginkgo', e2eTest: '/b/e2e.test', kubectl: '/b/kubectl' },
    resultsDir,
    log: () => {},
    runProgram: () => Promise.reject(new Error('no spec runs after a signal')),
  });
  const listeners = () => ({ SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') });

  it('aborts the start (which removes what it made), ends with exit code 130 and leaves no signal handler', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kpng-run-netns-'));
    try {
      const before = listeners();
      const removed: string[] = [];
      const run = runNetnsE2e({
        ...options(dir),
        startCluster: async ({ signal }) => {
          expect(signal?.aborted).toBe(false);
          process.emit('SIGTERM', 'SIGTERM');
          process.emit('SIGINT', 'SIGINT'); // a second signal changes nothing
          // What startNetnsCluster does at its next step once aborted: remove what it made, reject.
          expect(signal?.aborted).toBe(true);
          removed.push('kc0001');
          throw new Error('interrupted while starting cluster kc0001');
        },
      });
      await expect(run).rejects.toMatchObject({ code: 'KPNG_ERR_NETNS_CLUSTER', exitCode: 130 });
      expect(removed).toEqual(['kc0001']);
      expect(listeners()).toEqual(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops a cluster whose start returned as the signal came, before any spec runs', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kpng-run-netns-'));
    try {
      const before = listeners();
      const stopped: string[] = [];
      const cluster = { id: 'kc0002', stop: async () => void stopped.push('kc0002') } as unknown as NetnsCluster;
      const run = runNetnsE2e({
        ...options(dir),
        startCluster: async () => {
          process.emit('SIGINT', 'SIGINT');
          return cluster;
        },
      });
      await expect(run).rejects.toMatchObject({ code: 'KPNG_ERR_NETNS_CLUSTER', exitCode: 130 });
      expect(stopped).toEqual(['kc0002']);
      expect(listeners()).toEqual(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
