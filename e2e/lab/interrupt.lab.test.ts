// Ctrl-C in the middle of a lab run leaves nothing behind: no namespaces, no processes
// (proxies, relay, echo servers, etcd, kube-apiserver), no files (the lab's folder, the
// control plane's data folder). The command runs as a user runs it, in its own process
// group, and gets SIGINT the way a terminal sends it: to the whole group.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { listNamespaces, processRunning, projectNode, programEnv } from '../../harness/lab/netns/index.ts';
import { repoRoot } from '../../harness/k8s-binaries.ts';

/** Pids whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}


async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('kpng-harness lab, interrupted', () => {
  const reports: string[] = [];
  afterAll(async () => {
    await Promise.all(reports.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  for (const [how, signal, group] of [
    ['Ctrl-C (SIGINT to the process group)', 'SIGINT', true],
    ['SIGTERM to the command alone', 'SIGTERM', false],
  ] as const) {
    it(`removes everything it made on ${how}`, async () => {
      const reportDir = await mkdtemp(path.join(tmpdir(), 'kpng-lab-report-'));
      reports.push(reportDir);
      const child = execa(projectNode(), [path.join(repoRoot, 'harness/cli.ts'), 'lab', '--backend', 'iptables', '--family', 'ipv4', '--focus', 'session-affinity-timeout-clusterip', '--results', reportDir], {
        env: programEnv(),
        detached: true,
        reject: false,
        all: true,
        buffer: true,
        stdin: 'ignore',
      });
      let output = '';
      child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // Interrupt once the spec is under way: pods and Services exist, the proxies run.
      await waitUntil('the spec starting', () => /lab ready in/.test(output), 90_000);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const prefix = /namespaces (kt[0-9a-f]{4}-)\*, files in (\S+)/.exec(output);
      const cpDir = /ready in [\d.]+s at \S+, files in (\S+)/.exec(output)?.[1];
      expect(prefix, output).not.toBeNull();
      expect(cpDir, output).toBeDefined();
      const [, nsPrefix = '', labDir = ''] = prefix ?? [];
      const ours = (await listNamespaces()).filter((n) => n.startsWith(nsPrefix));
      expect(ours.length, 'namespaces while running').toBeGreaterThan(4);
      const inNamespaces = (await Promise.all(ours.map(async (ns) => (await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout.split('\n').filter(Boolean).map(Number)))).flat();
      expect(inNamespaces.length, 'processes in the namespaces while running (proxies, relay, echo servers, probes)').toBeGreaterThan(5);
      expect(processesMentioning(labDir).length, 'proxy and relay processes while running').toBeGreaterThan(0);
      expect(processesMentioning(cpDir ?? '').length, 'etcd and kube-apiserver while running').toBeGreaterThanOrEqual(2);

      process.kill(group ? -child.pid! : child.pid!, signal);
      const result = await child;
      expect(result.exitCode, output).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(output).toContain(`lab: ${signal}: removing everything the lab made`);
      expect((await listNamespaces()).filter((n) => n.startsWith(nsPrefix)), output).toEqual([]);
      expect(processesMentioning(labDir), 'processes left').toEqual([]);
      expect(inNamespaces.filter(processRunning), 'processes that ran in the namespaces, left').toEqual([]);
      expect(processesMentioning(cpDir ?? ''), 'control plane processes left').toEqual([]);
      expect(existsSync(labDir), `${labDir} left`).toBe(false);
      expect(existsSync(cpDir ?? ''), `${cpDir} left`).toBe(false);
    });
  }
});
