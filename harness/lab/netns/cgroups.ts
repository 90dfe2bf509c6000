// A cgroup per node: for backends that hook the sockets of a cgroup's processes rather
// than a network namespace (scope 'cgroup'), each node of a topology made with
// `nodeCgroups: true` gets a cgroup2 directory of its own, and every process the lab
// starts in that node's namespace or in its pods' joins it before it runs (exec.ts). So
// one node's hooks act on that node's processes only, never on another node's or on the
// host's.
//
//   <cgroup2 mount>/kpng-<run>/           the run's folder (`kpng-kt3f09`), nothing in it
//   <cgroup2 mount>/kpng-<run>/<node>/    a node's processes and its pods'
//
// A backend's kernel state that outlives its process (bpffs pins) goes to a folder per node
// below the root its scope names: `<root>/<prefix><node>` (`/sys/fs/bpf/kt3f09-node-a`).
// destroy() removes both once the processes are gone (cgroup.kill for any left), and the
// run's marker lists them, so a sweep removes those of a run that died.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { PREFIX_PATTERN } from './names.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

/** The first cgroup2 mount point of /proc/self/mounts (the text given, or this process's), or undefined. */
export function cgroup2Mount(mounts?: string): string | undefined {
  let text = mounts;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mounts', 'utf8');
    } catch {
      return undefined;
    }
  }
  for (const line of text.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2' && mountPoint) return mountPoint.replace(/\\040/g, ' ');
  }
  return undefined;
}

/** The run's cgroup folder below the cgroup2 mount (`kpng-kt3f09`). */
export function runCgroupName(prefix: string): string {
  if (!PREFIX_PATTERN.test(prefix)) throw new Error(`not a lab prefix: ${prefix}`);
  return `kpng-${prefix.replace(/-$/, '')}`;
}

/** Matches a run's cgroup folder name; group 1 is its prefix without the dash. */
export const RUN_CGROUP_PATTERN = /^kpng-(kt[0-9a-f]{4})$/;

/** A node's folder for a backend's kernel state below `under`: `<under>/<prefix><node>`. */
export function nodeStateDir(under: string, prefix: string, node: string): string {
  if (!isAbsolute(under) || under === '/' || under.includes('..')) {
    throw new Error(harnessErrorText('KPNG_ERR_NETNS_CGROUP', `a node's state folder goes below an absolute folder other than /, not ${JSON.stringify(under)}`));
  }
  return join(under, `${prefix}${node}`);
}

/** Makes the run's cgroup folder; throws KPNG_ERR_NETNS_CGROUP saying why when this host has none to give. */
export function makeRunCgroup(prefix: string, mounts?: string): string {
  const root = cgroup2Mount(mounts);
  if (root === undefined) throw new Error(harnessErrorText('KPNG_ERR_NETNS_CGROUP', 'no cgroup2 file system is mounted (/proc/self/mounts), so nodes cannot have a cgroup each; accepted: a host with a cgroup2 mount'));
  const dir = join(root, runCgroupName(prefix));
  try {
    mkdirSync(dir);
  } catch (error) {
    throw new Error(harnessErrorText('KPNG_ERR_NETNS_CGROUP', `cannot make the run's cgroup ${dir}: ${(error as Error).message}`), { cause: error });
  }
  return dir;
}

/** Makes a node's cgroup in the run's folder. */
export function makeNodeCgroup(runDir: string, node: string): string {
  const dir = join(runDir, node);
  try {
    mkdirSync(dir);
  } catch (error) {
    throw new Error(harnessErrorText('KPNG_ERR_NETNS_CGROUP', `cannot make node ${node}'s cgroup ${dir}: ${(error as Error).message}`), { cause: error });
  }
  return dir;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Removes one cgroup folder (kills what still runs in it first); true when it is gone. */
function removeCgroup(dir: string): boolean {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      rmdirSync(dir);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY') return false;
      // Processes left (or still exiting): end them all at once, then try again.
      try {
        if (attempt === 0) writeFileSync(join(dir, 'cgroup.kill'), '1');
      } catch {
        // No cgroup.kill (kernel before 5.14): kill by pid.
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)) {
          try {
            if (pid !== process.pid) process.kill(pid, 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
      }
      sleepSync(20);
    }
  }
  return false;
}

/**
 * Removes a run's cgroup folder and its nodes' cgroups (ending anything still in them),
 * and the nodes' state folders. Returns what could not be removed.
 */
export function removeRunPlacement(runDir: string | undefined, stateDirs: readonly string[]): string[] {
  const left: string[] = [];
  if (runDir !== undefined && existsSync(runDir)) {
    let children: string[] = [];
    try {
      children = readdirSync(runDir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => join(runDir, e.name));
    } catch {
      // Gone meanwhile.
    }
    for (const dir of [...children, runDir]) if (!removeCgroup(dir)) left.push(dir);
  }
  // After the cgroups: their hooks are released with them, and the pins with these folders.
  for (const dir of stateDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      left.push(dir);
    }
  }
  return left;
}

/** The run cgroup folders below the cgroup2 mount, by prefix (`kt3f09-`). */
export function runCgroups(mounts?: string): Map<string, string> {
  const root = cgroup2Mount(mounts);
  const found = new Map<string, string>();
  if (root === undefined) return found;
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return found;
  }
  for (const name of names) {
    const m = RUN_CGROUP_PATTERN.exec(name);
    if (m) found.set(`${m[1]}-`, join(root, name));
  }
  return found;
}
