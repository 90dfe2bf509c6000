// `kpng-harness e2e --cluster netns` stopped by a signal while its cluster starts: the
// command ends with exit code 130 and leaves no process, namespace, mount, cgroup or file of
// that cluster behind (before, the start had no handler and the cluster stayed).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupHierarchies } from '../cluster/netns/host.ts';
import { clusterPlan, mountsUnder, namespacesOf, DEFAULT_DATA_DIR, DEFAULT_RUN_DIR } from '../cluster/netns/index.ts';
import { repoRoot } from '../k8s-binaries.ts';
import { projectNode, programEnv } from '../lab/netns/index.ts';

/** Processes whose cgroup (any hierarchy) is the cluster's. */
function processesIn(cgroup: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cgroup`, 'utf8').split('\n').some((l) => l.split(':')[2]?.startsWith(cgroup))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('kpng-harness e2e on a netns cluster, signalled while the cluster starts', () => {
  it.each([
    ['SIGTERM', 'namespaces:', 'its namespaces are made'],
    ['SIGINT', 'control plane ready', 'its control plane runs'],
  ] as const)('%s once %s (%s): exit code 130, nothing of the cluster left', async (signal, line, stage) => {
    const results = await mkdtemp(path.join(tmpdir(), 'kpng-e2e-signal-'));
    try {
      const child = spawn(
        projectNode(),
        ['--disable-warning=ExperimentalWarning', path.join(repoRoot, 'harness/cli.ts'), 'e2e', '--cluster', 'netns', '--backend', 'kube-proxy', '--cluster-nodes', '2', '--focus', 'should serve a basic endpoint from pods', '--results', results],
        { cwd: repoRoot, env: { ...process.env, ...programEnv() }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      let signalled = false;
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (!signalled && output.split('\n').some((l) => l.includes(line))) {
          signalled = true;
          child.kill(signal);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      const code = await exited;
      expect(signalled, `the command never said "${line}" (${stage}):\n${output}`).toBe(true);
      expect(code, output).toBe(130);
      expect(output).toMatch(/KPNG_ERR_NETNS_CLUSTER: interrupted while the netns cluster for kube-proxy\/ipv4 started/);
      const id = /cluster (kc[0-9a-f]+): 2 nodes/.exec(output)?.[1] ?? expect.unreachable(`no cluster id in:\n${output}`);
      const plan = clusterPlan(id, 2);
      const dataDir = path.join(DEFAULT_DATA_DIR, id);
      const runDir = path.join(DEFAULT_RUN_DIR, id);
      expect(processesIn(plan.cgroup)).toEqual([]);
      expect(await namespacesOf(id)).toEqual([]);
      expect(mountsUnder([dataDir, runDir])).toEqual([]);
      expect(cgroupHierarchies().filter((h) => existsSync(path.join(h, plan.cgroup)))).toEqual([]);
      expect({ data: existsSync(dataDir), run: existsSync(runDir) }).toEqual({ data: false, run: false });
    } finally {
      await rm(results, { recursive: true, force: true });
    }
  }, 400_000);
});
