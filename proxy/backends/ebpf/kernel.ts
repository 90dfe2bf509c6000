// Driving the kernel through bpftool: load and pin the socket-LB programs and maps, attach
// them to a cgroup2 directory, write the maps in batches, read them back, and remove it all.
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import type { Runner, RunResult } from '../common/index.ts';
import { ebpfErrorText } from './errors.ts';
import { batchLine, unhex, hex, type MapName, type MapOp } from './maps.ts';
import type { Entries } from './plan.ts';

/** The cgroup hooks, by bpftool's attach type names, and the program each runs. */
export const hooks = ['connect4', 'sendmsg4', 'recvmsg4', 'getpeername4', 'connect6', 'sendmsg6', 'recvmsg6', 'getpeername6'] as const;
export type Hook = (typeof hooks)[number];

/** The kernel's attach type (bpftool -j cgroup show) -> bpftool's name for it. */
const attachTypes: Record<string, Hook> = {
  cgroup_inet4_connect: 'connect4',
  cgroup_udp4_sendmsg: 'sendmsg4',
  cgroup_udp4_recvmsg: 'recvmsg4',
  cgroup_inet4_getpeername: 'getpeername4',
  cgroup_inet6_connect: 'connect6',
  cgroup_udp6_sendmsg: 'sendmsg6',
  cgroup_udp6_recvmsg: 'recvmsg6',
  cgroup_inet6_getpeername: 'getpeername6',
};

export class EbpfSetupError extends Error {}

export const errEbpfSetup = (what: string) => new EbpfSetupError(ebpfErrorText('KPNG_ERR_EBPF_SETUP', what));

/** Where the kernel's programs and maps are pinned. */
export interface Pins {
  dir: string;
  progDir: string;
  mapDir: string;
}

export const pinsUnder = (dir: string): Pins => ({ dir, progDir: `${dir}/prog`, mapDir: `${dir}/maps` });

/** The first cgroup2 mount point in /proc/self/mounts (the node's cgroup2 root). */
export async function cgroup2Root(mounts?: string): Promise<string> {
  const text = mounts ?? (await readFile('/proc/self/mounts', 'utf8'));
  for (const line of text.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2' && mountPoint) return mountPoint.replace(/\\040/g, ' ');
  }
  throw errEbpfSetup('no cgroup2 file system is mounted (/proc/self/mounts); accepted: a cgroup2 mount, or --cgroup-path naming a cgroup2 directory');
}

async function isBpffs(path: string, runner: Runner): Promise<boolean> {
  const r = await runner('stat', ['-f', '-c', '%T', path]);
  return r.exitCode === 0 && r.stdout.trim() === 'bpf_fs';
}

/** The error for a bpftool run that did not succeed. */
function failed(r: RunResult, args: readonly string[], what: string): EbpfSetupError {
  if (r.exitCode === undefined) return errEbpfSetup(`bpftool could not run (${r.stderr.trim() || 'not installed'}); accepted: bpftool on PATH (hack/install-system-deps.sh)`);
  return errEbpfSetup(`${what}: bpftool ${args.slice(0, 4).join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join('; ')}`);
}

export class Bpftool {
  private readonly run: Runner;

  constructor(run: Runner) {
    this.run = run;
  }

  private async must(args: string[], what: string, input?: string): Promise<string> {
    const r = await this.run('bpftool', args, input !== undefined ? { input } : {});
    if (r.exitCode !== 0) throw failed(r, args, what);
    return r.stdout;
  }

  /** bpffs at /sys/fs/bpf (mounted when it is not) and the pin folder's parent. */
  async ensureBpffs(pins: Pins): Promise<void> {
    if (!(await isBpffs('/sys/fs/bpf', this.run))) {
      const r = await this.run('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
      if (r.exitCode !== 0) throw errEbpfSetup(`cannot mount the bpf file system at /sys/fs/bpf: ${r.stderr.trim()}; accepted: a host with bpffs (mount -t bpf bpf /sys/fs/bpf)`);
    }
    await mkdir(pins.dir, { recursive: true });
    if (!(await isBpffs(pins.dir, this.run))) throw errEbpfSetup(`pin path ${pins.dir} is not on a bpf file system; accepted: a folder under /sys/fs/bpf`);
  }

  /** Load every program of `object` and pin programs and maps under `pins`. */
  async load(object: string, pins: Pins): Promise<void> {
    await this.must(['prog', 'loadall', object, pins.progDir, 'pinmaps', pins.mapDir], `loading ${object}`);
  }

  async attach(cgroup: string, pins: Pins): Promise<void> {
    for (const h of hooks) await this.must(['cgroup', 'attach', cgroup, h, 'pinned', `${pins.progDir}/kpng_${h}`, 'multi'], `attaching ${h} to ${cgroup}`);
  }

  /** The socket-LB programs attached to `cgroup` (by their program names). */
  async attached(cgroup: string): Promise<{ id: number; hook: Hook }[]> {
    const r = await this.run('bpftool', ['-j', 'cgroup', 'show', cgroup]);
    if (r.exitCode !== 0) return [];
    const list = JSON.parse(r.stdout.trim() || '[]') as { id: number; attach_type: string; name: string }[];
    return list.filter((p) => p.name.startsWith('kpng_') && attachTypes[p.attach_type]).map((p) => ({ id: p.id, hook: attachTypes[p.attach_type]! }));
  }

  /**
   * Detach every socket-LB program from `cgroup`; returns how many this call detached. A
   * program someone else detached meanwhile (another cleanup, or a proxy reloading while an
   * operator wipes its state) is gone either way, so it is not an error.
   */
  async detachAll(cgroup: string): Promise<number> {
    let detached = 0;
    for (const p of await this.attached(cgroup)) {
      const args = ['cgroup', 'detach', cgroup, p.hook, 'id', String(p.id)];
      const r = await this.run('bpftool', args);
      if (r.exitCode === 0) detached++;
      else if (r.exitCode === undefined || (await this.attached(cgroup)).some((q) => q.id === p.id)) throw failed(r, args, `detaching ${p.hook} from ${cgroup}`);
    }
    return detached;
  }

  /** Apply map operations in one bpftool process (stops at the first failing line). */
  async batch(ops: readonly MapOp[], pins: Pins): Promise<{ lines: number; bytes: number }> {
    if (ops.length === 0) return { lines: 0, bytes: 0 };
    const text = ops.map((o) => batchLine(o, pins.mapDir)).join('\n') + '\n';
    await this.must(['batch', 'file', '-'], `writing ${ops.length} map entries`, text);
    return { lines: ops.length, bytes: Buffer.byteLength(text) };
  }

  /** A map's entries as "map\tkey hex" -> value hex. */
  async dump(map: MapName, pins: Pins, into: Entries = new Map()): Promise<Entries> {
    const out = await this.must(['-j', 'map', 'dump', 'pinned', `${pins.mapDir}/${map}`], `reading ${map}`);
    for (const e of JSON.parse(out.trim() || '[]') as { key: string[]; value: string[] }[]) into.set(`${map}\t${hex(unhex(e.key))}`, hex(unhex(e.value)));
    return into;
  }
}

/** Whether every program and map is still pinned. */
export async function pinsPresent(pins: Pins, maps: readonly string[]): Promise<boolean> {
  const paths = [...hooks.map((h) => `${pins.progDir}/kpng_${h}`), ...maps.map((m) => `${pins.mapDir}/${m}`)];
  for (const p of paths) {
    try {
      await stat(p);
    } catch {
      return false;
    }
  }
  return true;
}

export async function removePins(pins: Pins): Promise<void> {
  await rm(pins.dir, { recursive: true, force: true });
}
