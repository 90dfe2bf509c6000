import { describe, expect, it } from 'vitest';
import { proxyCommands } from './proxies.ts';

const input = { clusterCidrs: ['10.244.0.0/16', 'fd00:244::/48'], nodeName: 'node-2', kubeconfig: '/tmp/lab/node-kubeconfig', socket: '/tmp/lab/sockets/node-2.sock' } as const;

describe("proxyCommands: the DaemonSet's command lines with the lab's node name, kubeconfig and socket", () => {
  it('runs one kube → to-local → backend process in the single model', () => {
    expect(proxyCommands({ ...input, backend: 'nft', model: 'single-process-per-node' })).toEqual([
      {
        role: 'backend',
        args: ['kube', '--kubeconfig=/tmp/lab/node-kubeconfig', 'to-local', '--node-name=node-2', 'to-nft', '--cluster-cidr=10.244.0.0/16,fd00:244::/48', '--metrics-bind-address=0.0.0.0:10249'],
      },
    ]);
  });

  it('runs a kube → to-api server and a local → backend process over the node socket in the split model', () => {
    expect(proxyCommands({ ...input, backend: 'iptables', model: 'split-process-per-node' })).toEqual([
      { role: 'server', args: ['kube', '--kubeconfig=/tmp/lab/node-kubeconfig', 'to-api', '--listen=unix:///tmp/lab/sockets/node-2.sock'] },
      {
        role: 'backend',
        args: ['local', '--api=unix:///tmp/lab/sockets/node-2.sock', '--node-name=node-2', 'to-iptables', '--cluster-cidr=10.244.0.0/16,fd00:244::/48', '--metrics-bind-address=0.0.0.0:10249'],
      },
    ]);
  });

  it("ends the backend's flags with those that keep it to the node (a cgroup-scoped backend's cgroup and state folder)", () => {
    const nodeArgs = ['--cgroup-path=/sys/fs/cgroup/kpng-kt3f09/node-2', '--pin-path=/sys/fs/bpf/kt3f09-node-2'];
    for (const model of ['single-process-per-node', 'split-process-per-node'] as const) {
      const commands = proxyCommands({ ...input, backend: 'ebpf', model, nodeArgs });
      expect(commands.at(-1)?.args.slice(-2), model).toEqual(nodeArgs);
      expect(commands.at(-1)?.args.indexOf('to-ebpf')).toBeLessThan(commands.at(-1)!.args.length - 2);
      if (commands.length > 1) expect(commands[0]?.args.join(' ')).not.toMatch(/cgroup|pin-path/);
    }
  });

  it('leaves nothing for a kubelet or a volume to fill in', () => {
    for (const model of ['single-process-per-node', 'split-process-per-node'] as const) {
      const args = proxyCommands({ ...input, backend: 'iptables', model }).flatMap((c) => c.args).join(' ');
      expect(args).not.toMatch(/\$\(|\/k8s\/|\/var\/lib\/kpng/);
    }
  });
});
