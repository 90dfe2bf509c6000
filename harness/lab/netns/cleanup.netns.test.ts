// Nothing is left behind: destroy() after success or failure, the exit hook on SIGTERM,
// and sweepStale() after a run died without cleaning up.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { markerDir, processStartTime } from './cleanup.ts';
import { execIn } from './exec.ts';
import { createTopology, listNamespaces, processRunning, sweepStale, withTopology } from './index.ts';
import { newPrefix } from './names.ts';
import { programEnv, projectNode } from './programs.ts';

const holder = fileURLToPath(new URL('./testdata/hold-topology.ts', import.meta.url));

async function namespacesWith(prefix: string): Promise<string[]> {
  return (await listNamespaces()).filter((name) => name.startsWith(prefix));
}

const markerFile = (prefix: string) => join(markerDir(), `${prefix.replace(/-$/, '')}.json`);


async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts hold-topology.ts and waits for what it made. */
async function startHolder(args: readonly string[] = []) {
  const child = spawn(projectNode(), ['--disable-warning=ExperimentalWarning', holder, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...programEnv() } });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await Promise.race([
    until(() => out.includes('\n'), 20_000),
    exited.then(({ code }) => {
      throw new Error(`hold-topology exited (${code}) early: ${err}`);
    }),
  ]);
  const made = JSON.parse(out) as { prefix: string; namespaces: string[]; serverPid: number; cgroup?: string; stateDir?: string };
  return { child, exited, ...made };
}

describe('cleanup', () => {
  it('destroy() ends the servers and deletes every namespace of the run, and its marker', async () => {
    const t = await createTopology({ family: 'dual', nodes: ['node-1', 'node-2'], pods: [{ name: 'pod-a', node: 'node-2' }], clients: ['client'] });
    const server = await t.pod('pod-a').serve({ http: 8080, udp: 5353 });
    const sleeper = t.node('node-1').spawn('sleep', ['60']);
    expect(await namespacesWith(t.prefix)).toHaveLength(5);
    expect(existsSync(markerFile(t.prefix))).toBe(true);
    await t.destroy();
    expect(await namespacesWith(t.prefix)).toEqual([]);
    expect(existsSync(markerFile(t.prefix))).toBe(false);
    expect(processRunning(server.process.pid)).toBe(false);
    expect(sleeper.exit).toEqual({ exitCode: undefined, signal: 'SIGTERM' });
    expect(t.destroyed).toBe(true);
    await t.destroy();
    expect(() => t.pod('pod-a').spawn('true')).toThrow(/KPNG_ERR_NETNS_DESTROYED/);
  });

  it('withTopology() destroys the topology when the body throws, and passes the error on', async () => {
    let prefix = '';
    await expect(
      withTopology({ family: 'ipv4', nodes: ['node-1'], pods: [{ name: 'pod-a', node: 'node-1' }] }, async (t) => {
        prefix = t.prefix;
        await t.pod('pod-a').serve({ http: 8080 });
        throw new Error('the test body failed');
      }),
    ).rejects.toThrow('the test body failed');
    expect(prefix).toMatch(/^kt[0-9a-f]{4}-$/);
    expect(await namespacesWith(prefix)).toEqual([]);
  });

  it('removes what it made when creation fails halfway', async () => {
    // The nodes exist by the time the pod's unknown node is found out.
    await expect(
      createTopology({ family: 'ipv4', nodes: ['node-halfway'], clients: ['client-halfway'], pods: [{ name: 'pod-a', node: 'node-9' }] }),
    ).rejects.toThrow(/KPNG_ERR_NETNS_UNKNOWN: no node named node-9/);
    expect((await listNamespaces()).filter((name) => name.endsWith('-halfway'))).toEqual([]);
  });

  it('destroys the live topologies of a process that gets SIGTERM, then dies of it', async () => {
    const held = await startHolder();
    expect(await namespacesWith(held.prefix)).toHaveLength(3);
    expect(processRunning(held.serverPid)).toBe(true);
    held.child.kill('SIGTERM');
    expect(await held.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await namespacesWith(held.prefix)).toEqual([]);
    expect(existsSync(markerFile(held.prefix))).toBe(false);
    await until(() => !processRunning(held.serverPid), 2_000);
  });

  it('sweepStale() removes the namespaces of a run whose process was killed outright, and its processes', async () => {
    const held = await startHolder();
    held.child.kill('SIGKILL');
    await held.exited;
    // SIGKILL leaves no chance to clean up.
    expect(await namespacesWith(held.prefix)).toHaveLength(3);
    const removed = await sweepStale();
    expect(removed).toEqual(expect.arrayContaining(held.namespaces));
    expect(await namespacesWith(held.prefix)).toEqual([]);
    expect(existsSync(markerFile(held.prefix))).toBe(false);
    await until(() => !processRunning(held.serverPid), 2_000);
  });

  it('with a cgroup per node: a run killed outright leaves its cgroups and state folder, and sweepStale() removes them (ending what ran in them)', async () => {
    const held = await startHolder(['--node-cgroups']);
    const [cgroup, stateDir] = [held.cgroup!, held.stateDir!];
    mkdirSync(stateDir);
    held.child.kill('SIGKILL');
    await held.exited;
    expect(existsSync(cgroup)).toBe(true);
    expect(readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(held.serverPid));
    await sweepStale();
    expect(existsSync(dirname(cgroup))).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
    expect(await namespacesWith(held.prefix)).toEqual([]);
    await until(() => !processRunning(held.serverPid), 2_000);
  });

  it('sweepStale() leaves a run whose process still runs, even when it was not made by this library', async () => {
    // Two leftovers, made by hand: one whose creator has exited, one whose creator still runs.
    const dead = spawn('true');
    await new Promise((resolve) => dead.on('exit', resolve));
    const alive = spawn('sleep', ['60']);
    await until(() => processStartTime(alive.pid ?? 0) !== undefined, 2_000);
    const [deadPrefix, livePrefix] = [newPrefix(), newPrefix()];
    try {
      for (const [prefix, pid] of [
        [deadPrefix, dead.pid ?? 0],
        [livePrefix, alive.pid ?? 0],
      ] as const) {
        writeFileSync(markerFile(prefix), JSON.stringify({ prefix, pid, startTime: processStartTime(pid), createdAt: new Date().toISOString(), command: 'test' }), { flag: 'wx' });
        await execIn(undefined, 'ip', ['netns', 'add', `${prefix}n-leftover`]);
      }
      await sweepStale();
      expect(await namespacesWith(deadPrefix)).toEqual([]);
      expect(existsSync(markerFile(deadPrefix))).toBe(false);
      expect(await namespacesWith(livePrefix)).toEqual([`${livePrefix}n-leftover`]);
      expect(existsSync(markerFile(livePrefix))).toBe(true);
    } finally {
      alive.kill('SIGKILL');
      await new Promise((resolve) => alive.on('exit', resolve));
      await sweepStale();
    }
    expect(await namespacesWith(livePrefix)).toEqual([]);
  });
});
