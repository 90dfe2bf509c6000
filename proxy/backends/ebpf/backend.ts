// The eBPF backend: socket load balancing. cgroup hooks rewrite a service address to an
// endpoint when a process of the cgroup connects or sends, so no packet is translated.
// Node drives the kernel through bpftool: programs and maps pinned under --pin-path,
// attached to --cgroup-path, maps written in batches of changed entries.
import type { LocalChanges, LocalState, IPFamily } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Backend, SyncStats } from '../backend.ts';
import { processRunner, type Runner } from '../common/index.ts';
import { Bpftool, cgroup2Root, hooks, pinsPresent, pinsUnder, removePins, type Pins } from './kernel.ts';
import { allMaps, batchLine, writtenMaps } from './maps.ts';
import { defaultObjectPath } from './object.ts';
import { MapPlanner, type Entries } from './plan.ts';

export const defaultPinPath = '/sys/fs/bpf/kpng';

export interface EbpfBackendOptions {
  logger: Logger;
  runner?: Runner;
  /** Folder on bpffs for the pins (default /sys/fs/bpf/kpng). */
  pinPath?: string;
  /** The cgroup2 directory whose processes are load-balanced (default: the cgroup2 root). */
  cgroupPath?: string;
  /** The compiled program (default: the one hack/build-bpf.sh built). */
  objectPath?: string;
  families?: IPFamily[];
  dryRun?: boolean;
  /** Where --dry-run prints the map operations (default: stdout). */
  print?: (text: string) => void;
}

export interface EbpfSyncStats extends SyncStats {
  ops: number;
}

export class EbpfBackend implements Backend {
  readonly name = 'ebpf';
  private readonly opts: EbpfBackendOptions;
  private readonly tool: Bpftool;
  private readonly pins: Pins;
  private readonly planner: MapPlanner;
  private cgroup: string | undefined;
  /** The maps may differ from what was planned (a batch failed midway): read them before the next full sync. */
  private dirty = false;
  /** Programs or pins went missing: load everything anew at the next full sync. */
  private reload = false;

  constructor(opts: EbpfBackendOptions) {
    this.opts = opts;
    this.tool = new Bpftool(opts.runner ?? processRunner());
    this.pins = pinsUnder(opts.pinPath ?? defaultPinPath);
    this.planner = new MapPlanner(opts.families ?? ['IPv4', 'IPv6']);
  }

  private async cgroupPath(): Promise<string> {
    this.cgroup ??= this.opts.cgroupPath ?? (await cgroup2Root());
    return this.cgroup;
  }

  async setup(): Promise<void> {
    if (this.opts.dryRun) return;
    const object = this.opts.objectPath ?? defaultObjectPath();
    const cgroup = await this.cgroupPath();
    // A previous run's programs are replaced: its maps go with them, and the first sync is full.
    await this.remove(cgroup);
    try {
      await this.tool.ensureBpffs(this.pins);
      await this.tool.load(object, this.pins);
      await this.tool.attach(cgroup, this.pins);
    } catch (err) {
      await this.remove(cgroup).catch(() => undefined);
      throw err;
    }
    this.planner.reset();
    this.dirty = false;
    this.reload = false;
    this.opts.logger.info(`socket load balancing on cgroup ${cgroup}: ${hooks.length} hooks, pins under ${this.pins.dir}`);
  }

  async sync(state: LocalState, changes: LocalChanges | undefined): Promise<EbpfSyncStats> {
    const full = changes === undefined || changes.node;
    if (full && this.reload) await this.setup();
    let actual: Entries | undefined;
    if (full && this.dirty && !this.opts.dryRun) {
      actual = new Map();
      for (const m of writtenMaps) await this.tool.dump(m, this.pins, actual);
    }
    const plan = this.planner.plan(state, full ? undefined : changes.servicePorts, actual);
    let written = { lines: 0, bytes: 0 };
    if (this.opts.dryRun) {
      const text = plan.ops.map((o) => batchLine(o, this.pins.mapDir)).join('\n');
      (this.opts.print ?? ((t: string) => process.stdout.write(t)))(`# kpng ebpf: ${plan.ops.length} map operation(s), ${full ? 'full' : 'partial'} sync\n${text}${text ? '\n' : ''}`);
    } else {
      try {
        written = await this.tool.batch(plan.ops, this.pins);
      } catch (err) {
        this.dirty = true;
        throw err;
      }
    }
    plan.commit();
    if (full) this.dirty = false;
    return { full, ops: plan.ops.length, ...written, rulesPerTable: this.planner.counts() };
  }

  /** Programs detached or pins removed by someone else. Map contents are checked at full syncs only after a failed write. */
  async tampered(): Promise<boolean> {
    if (this.opts.dryRun) return false;
    const ok = (await pinsPresent(this.pins, allMaps)) && (await this.tool.attached(await this.cgroupPath())).length === hooks.length;
    if (!ok) this.reload = true;
    return !ok;
  }

  async cleanup(): Promise<void> {
    await this.remove(await this.cgroupPath());
  }

  private async remove(cgroup: string): Promise<void> {
    const n = await this.tool.detachAll(cgroup);
    await removePins(this.pins);
    if (n > 0) this.opts.logger.info(`detached ${n} socket-LB program(s) from ${cgroup}, removed ${this.pins.dir}`);
  }
}
