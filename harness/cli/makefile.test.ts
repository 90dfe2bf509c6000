// The Makefile's harness targets, as `make -n` shows them: KPNG's target names and
// variables (b=, i=, m=) reach kpng-harness as options, tools are checked before slow
// steps, and every kpng-harness command the Makefile names exists.
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../k8s-binaries.ts';
import { commands } from './main.ts';

async function dryRun(...args: string[]): Promise<string[]> {
  const { stdout } = await execa('make', ['--no-print-directory', '-n', ...args], { cwd: repoRoot });
  return stdout.split('\n').filter((line) => line !== '');
}

describe('make targets with KPNG names', () => {
  it.each([
    [['tilt-setup', 'b=nft', 'i=dual', 'm=split-process-per-node'], 'node harness/cli.ts tilt-setup --backend nft --family dual --model split-process-per-node --image kpng:dev'],
    [['tilt-setup', 'b=iptables', 'i=ipv6', 'recreate=1', 'IMAGE=localhost:5001/kpng:dev'], 'node harness/cli.ts tilt-setup --backend iptables --family ipv6 --model single-process-per-node --image localhost:5001/kpng:dev --recreate'],
    [['tilt-up'], 'node harness/cli.ts tilt-up'],
    [['tilt-down', 'keep=1'], 'node harness/cli.ts tilt-down --keep-cluster'],
    [['image', 'IMAGE=kpng:ci'], 'node harness/cli.ts image --tag kpng:ci'],
    [['e2e'], 'node harness/cli.ts e2e --nodes 8'],
    [['e2e', 'cluster=netns', 'b=kube-proxy', 'focus=basic endpoint'], "node harness/cli.ts e2e --nodes 8 --cluster netns --backend kube-proxy --focus 'basic endpoint'"],
    [['e2e', 'cluster=netns', 'i=dual', 'b=nft'], 'node harness/cli.ts e2e --nodes 8 --cluster netns --backend nft --family dual'],
    [['e2e-dual-nft', 'n=4', 'keep=1'], 'node harness/cli.ts e2e --family dual --backend nft --nodes 4 --keep-cluster'],
    [['e2e-ipv4-iptables'], 'node harness/cli.ts e2e --family ipv4 --backend iptables --nodes 8'],
    [['e2e-selection', 'show=1'], 'node harness/cli.ts e2e-selection --show'],
    [['e2e-report'], 'node harness/cli.ts report'],
    [['lab', 'b=nft', 'i=dual'], 'node harness/cli.ts lab --backend nft --family dual --model single-process-per-node'],
    [['lab'], 'node harness/cli.ts lab --backend iptables --family ipv4 --model single-process-per-node'],
    [['lab-matrix', 'm=split-process-per-node'], 'node harness/cli.ts lab --model split-process-per-node'],
    [['control-plane-up', 'i=dual'], 'node harness/cli.ts control-plane up --family dual'],
    [['control-plane-down'], 'node harness/cli.ts control-plane down'],
    [['cluster-up', 'nodes=3'], 'node harness/cli.ts cluster up --provider netns --family ipv4 --nodes 3'],
    [['cluster-up', 'proxy=kube-proxy'], 'node harness/cli.ts cluster up --provider netns --family ipv4 --nodes 2 --proxy kube-proxy'],
    [['cluster-up', 'i=dual'], 'node harness/cli.ts cluster up --provider netns --family dual --nodes 2'],
    [['cluster-down'], 'node harness/cli.ts cluster down'],
  ])('make %j runs %s', async (args, command) => {
    expect((await dryRun(...args)).at(-1)).toBe(command);
  });

  it('checks docker and kind before obtaining the e2e binaries (a slow build), then runs', async () => {
    const lines = await dryRun('e2e-ipv6-nft');
    expect(lines.slice(-3)).toEqual([
      'node harness/cli.ts require-tools docker kind',
      'hack/k8s-binaries.sh --only e2e.test,ginkgo,kubectl',
      'node harness/cli.ts e2e --family ipv6 --backend nft --nodes 8',
    ]);
  });

  it('names only kpng-harness commands that exist', async () => {
    const makefile = await readFile(path.join(repoRoot, 'Makefile'), 'utf8');
    const used = [...makefile.matchAll(/\$\(KPNG_HARNESS\) ([a-z0-9-]+)/g)].map((m) => m[1] ?? '');
    expect(new Set(used)).toEqual(new Set(['image', 'tilt-setup', 'tilt-up', 'tilt-down', 'require-tools', 'e2e', 'e2e-selection', 'report', 'lab', 'control-plane', 'cluster']));
    for (const name of used) expect(Object.keys(commands)).toContain(name);
  });
});
