// A cgroup per node (nodeCgroups): every process the lab starts in a node's namespace or
// its pods' runs in that node's own cgroup from its first instruction, the clients' in
// none; a process started with hostMounts sees the host's /sys/fs/bpf and cgroups; destroy()
// removes the cgroups and the state folders handed out.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroup2Mount } from './cgroups.ts';
import { createTopology, nodeScopeArgs, parseEcho, urlFor } from './index.ts';

const root = cgroup2Mount()!;
/** A cgroup folder as /proc/<pid>/cgroup names it (relative to the cgroup2 mount). */
const named = (dir: string) => dir.slice(root.length) || '/';
const cgroupIn = (procSelfCgroup: string) => /^0::(.*)$/m.exec(procSelfCgroup)?.[1];
const cgroupOf = (pid: number | string) => cgroupIn(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
const procs = (dir: string) => readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean);
const cmdline = (pid: string) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');

const hooks = { kind: 'cgroup', cgroupFlag: 'cgroup-path', stateFlag: { name: 'pin-path', under: '/sys/fs/bpf' } } as const;

describe('a cgroup per node', () => {
  it("holds every process of a node and of its pods (commands, servers, probe agents), another node's cgroup its own, the clients' none; destroy() removes them", async () => {
    const t = await createTopology({
      family: 'ipv4',
      nodes: ['node-a', 'node-b'],
      pods: [
        { name: 'pod-a', node: 'node-a' },
        { name: 'pod-b', node: 'node-b' },
      ],
      clients: ['client'],
      nodeCgroups: true,
    });
    const [a, b] = [t.node('node-a'), t.node('node-b')];
    const stateDir = a.stateDir('/sys/fs/bpf');
    try {
      expect(t.nodeCgroups).toBe(true);
      expect(a.cgroup).toBe(`${root}/kpng-${t.prefix.slice(0, -1)}/node-a`);
      expect(dirname(b.cgroup!)).toBe(dirname(a.cgroup!));
      expect(t.pod('pod-a').cgroup).toBe(a.cgroup);
      // Commands, in the namespace and the cgroup.
      expect(cgroupIn(await a.exec('cat', ['/proc/self/cgroup']))).toBe(named(a.cgroup!));
      expect(cgroupIn(await t.pod('pod-b').exec('cat', ['/proc/self/cgroup']))).toBe(named(b.cgroup!));
      expect(cgroupIn(await t.client('client').exec('cat', ['/proc/self/cgroup']))).toBe(cgroupOf('self'));
      // Long-running processes: an echo server, and the probe agent that makes a request.
      const server = await t.pod('pod-b').serve({ http: 8080 });
      expect(cgroupOf(server.process.pid)).toBe(named(b.cgroup!));
      expect(parseEcho((await t.pod('pod-a').httpGet(urlFor(t.pod('pod-b').ip(), 8080))).body).pod).toBe('pod-b');
      expect(procs(a.cgroup!).map(cmdline).some((c) => c.includes('probe-client'))).toBe(true);
      expect(procs(b.cgroup!).map(cmdline).some((c) => c.includes('echo-server'))).toBe(true);
      // `ip netns exec` remounts /sys for the namespace; with hostMounts the host's bpffs shows.
      expect((await a.exec('stat', ['-f', '-c', '%T', '/sys/fs/bpf'])).trim()).toBe('sysfs');
      expect((await a.exec('stat', ['-f', '-c', '%T', '/sys/fs/bpf'], { hostMounts: true })).trim()).toBe('bpf_fs');
      // A cgroup-scoped backend's flags: the node's cgroup and a state folder of its own.
      expect(nodeScopeArgs(hooks, a)).toEqual([`--cgroup-path=${a.cgroup}`, `--pin-path=/sys/fs/bpf/${t.prefix}node-a`]);
      expect(nodeScopeArgs({ kind: 'network-namespace' }, a)).toEqual([]);
      mkdirSync(stateDir);
    } finally {
      await t.destroy();
    }
    expect(existsSync(dirname(a.cgroup!))).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('a topology without them starts processes in this process’s cgroup, and refuses a cgroup-scoped backend rather than hook every process of the host', async () => {
    const t = await createTopology({ family: 'ipv4', nodes: ['node-a'] });
    try {
      expect(t.node('node-a').cgroup).toBeUndefined();
      expect(cgroupIn(await t.node('node-a').exec('cat', ['/proc/self/cgroup']))).toBe(cgroupOf('self'));
      expect(() => nodeScopeArgs(hooks, t.node('node-a'))).toThrow(/^KPNG_ERR_NETNS_CGROUP: node node-a has no cgroup of its own, and a backend that hooks a cgroup's sockets would act on every process of the host without one/);
    } finally {
      await t.destroy();
    }
  });
});
