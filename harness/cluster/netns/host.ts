// What a netns cluster changes on the host, and how it is put back: the sysctls kubelet
// sets host-wide, the cluster's cgroups (every process of a node's runtime and pods lives
// under /kpng-<id>), mounts under the cluster's folders (container root filesystems, pod
// volumes, pod network namespaces, the nodes' UTS namespaces), and the folders.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { processRunner } from '../../../proxy/exec.ts';

/** Host-wide sysctls kubelet sets (vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1). */
export const KUBELET_SYSCTLS = ['vm.overcommit_memory', 'kernel.panic', 'kernel.panic_on_oops'] as const;

const sysctlFile = (name: string) => `/proc/sys/${name.replaceAll('.', '/')}`;

export function readSysctls(names: readonly string[] = KUBELET_SYSCTLS): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, readFileSync(sysctlFile(n), 'utf8').trim()]));
}

/** Writes back recorded values; returns those that differed. */
export async function restoreSysctls(saved: Record<string, string>): Promise<string[]> {
  const changed: string[] = [];
  for (const [name, value] of Object.entries(saved)) {
    const now = readFileSync(sysctlFile(name), 'utf8').trim();
    if (now === value) continue;
    await writeFile(sysctlFile(name), value);
    changed.push(`${name} ${now} -> ${value}`);
  }
  return changed;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The mounted cgroup v1 hierarchies (cpu, memory, ..., name=systemd) and the v2 one when mounted (unified). */
export function cgroupHierarchies(root = CGROUP_ROOT): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const out: string[] = [];
  for (const line of mounts) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4] ?? '';
    const fsType = right.split(' ')[0];
    if ((fsType === 'cgroup' || fsType === 'cgroup2') && mountPoint.startsWith(`${root}/`)) out.push(mountPoint);
    else if (fsType === 'cgroup2' && mountPoint === root) out.push(mountPoint);
  }
  return [...new Set(out)];
}

/** The cgroup2 hierarchy's mount point (/sys/fs/cgroup/unified on a hybrid host, /sys/fs/cgroup on a cgroup2-only one), or undefined. */
export function cgroup2Hierarchy(root = CGROUP_ROOT): string | undefined {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  for (const line of mounts) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4] ?? '';
    if (right.split(' ')[0] === 'cgroup2' && (mountPoint === root || mountPoint.startsWith(`${root}/`))) return mountPoint;
  }
  return undefined;
}

/** Creates `cgroup` (e.g. /kpng-kc12ab/node-1) in the cgroup2 hierarchy (no controllers are enabled in it: nothing to copy down); its path there, or undefined without one. */
export async function createCgroup2(cgroup: string): Promise<string | undefined> {
  const hierarchy = cgroup2Hierarchy();
  if (hierarchy === undefined) return undefined;
  const dir = path.join(hierarchy, cgroup);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Creates `cgroup` (e.g. /kpng-kc12ab/node-1) in every v1 hierarchy; cpuset's cpus and mems copied down each level, or nothing can join it. */
export async function createCgroup(cgroup: string): Promise<void> {
  for (const hierarchy of cgroupHierarchies()) {
    if (path.basename(hierarchy) === 'unified' || hierarchy === CGROUP_ROOT) continue;
    let dir = hierarchy;
    for (const part of cgroup.split('/').filter((p) => p !== '')) {
      const parent = dir;
      dir = path.join(dir, part);
      await mkdir(dir, { recursive: true });
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        const target = path.join(dir, file);
        if (!existsSync(target)) continue;
        // Written, not copied: cgroup files report size 0, so a file copy writes nothing.
        if ((await readFile(target, 'utf8')).trim() === '') await writeFile(target, (await readFile(path.join(parent, file), 'utf8')).trim());
      }
    }
  }
}

/** Moves a process into `cgroup` in every v1 hierarchy (its children will be born there). */
export async function joinCgroup(cgroup: string, pid: number): Promise<void> {
  for (const hierarchy of cgroupHierarchies()) {
    if (path.basename(hierarchy) === 'unified' || hierarchy === CGROUP_ROOT) continue;
    await writeFile(path.join(hierarchy, cgroup, 'cgroup.procs'), String(pid));
  }
}

/** Every cgroup folder under `cgroup` in every hierarchy, deepest first. */
function cgroupTree(cgroup: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      const child = path.join(dir, entry);
      try {
        if (statSync(child).isDirectory()) walk(child);
      } catch {
        // gone meanwhile
      }
    }
    out.push(dir);
  };
  for (const hierarchy of cgroupHierarchies()) walk(path.join(hierarchy, cgroup));
  return out;
}

export function cgroupPids(cgroup: string): number[] {
  const pids = new Set<number>();
  for (const dir of cgroupTree(cgroup)) {
    try {
      for (const line of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line !== '') pids.add(Number(line));
    } catch {
      // gone meanwhile
    }
  }
  return [...pids];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * SIGKILLs every process in `cgroup` (the cluster's runtimes, shims and containers, all
 * started by it) until none is left, then removes the cgroup folders. Returns what stayed.
 */
export async function killAndRemoveCgroup(cgroup: string, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = cgroupPids(cgroup);
    if (pids.length === 0 || Date.now() > deadline) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    await sleep(100);
  }
  const left: string[] = [];
  for (const dir of cgroupTree(cgroup)) {
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (attempt >= 20) {
          left.push(`${dir} (${code})`);
          break;
        }
        await sleep(100);
      }
    }
  }
  return left;
}

/** Mount points at or under one of `dirs`, deepest first. */
export function mountsUnder(dirs: readonly string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => dirs.some((d) => p === d || p.startsWith(`${d}/`)));
  return [...new Set(points)].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
}

/** Unmounts everything under `dirs` (lazily when busy); returns what stayed mounted. */
export async function unmountUnder(dirs: readonly string[]): Promise<string[]> {
  const run = processRunner();
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(dirs);
    if (points.length === 0) return [];
    for (const point of points) {
      const r = await run('umount', [point]);
      if (r.exitCode !== 0) await run('umount', ['-l', point]);
    }
  }
  return mountsUnder(dirs);
}

/** Network namespaces whose names start with `<id>-`. */
export async function namespacesOf(id: string): Promise<string[]> {
  try {
    return (await readdir('/run/netns')).filter((n) => n.startsWith(`${id}-`));
  } catch {
    return [];
  }
}
