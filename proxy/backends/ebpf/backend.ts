// The eBPF backend: socket load balancing. cgroup hooks rewrite a service address to an
// endpoint when a process of the cgroup connects or sends, so no packet is translated.
// Node drives the kernel through bpftool: programs and maps pinned under --pin-path,
// attached to --cgroup-path, maps written in batches of changed entries. Traffic from
// other hosts (NodePorts, external and LoadBalancer IPs) goes through a small nftables
// table instead (external.ts says why).
import type { IPFamily, NodeView, ViewChanges } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Backend, SyncStats } from '../backend.ts';
import { processRunner, readHostAddresses, type Runner } from '../common/index.ts';
import { expectedCounts, fullTransaction, nftTable, nodePortIPs, partialTransaction, renderExternal, renderExternalPort, type ExternalContext, type ExternalPart } from './external.ts';
import { Bpftool, cgroup2Root, hooks, pinsPresent, pinsUnder, removePins, type Pins } from './kernel.ts';
import { allMaps, batchLine, writtenMaps } from './maps.ts';
import { defaultObjectPath } from './object.ts';
import { NftTable, countsDiffer } from './nft-table.ts';
import { MapPlanner, changedKeys, type Entries } from './plan.ts';

export const defaultPinPath = '/sys/fs/bpf/kpng';

export interface EbpfBackendOptions {
  logger: Logger;
  /** Runs bpftool (and mount, stat). */
  runner?: Runner;
  /** Runs nft and ip, in the node's network namespace (default: runner). */
  netRunner?: Runner;
  /** --nodeport-addresses: CIDRs and/or "primary"; empty: the node's IPs. */
  nodePortAddresses?: string[];
  /** The packet mark bit asking for masquerade (default 14). */
  masqueradeBit?: number;
  /** Folder on bpffs for the pins (default /sys/fs/bpf/kpng). */
  pinPath?: string;
  /** The cgroup2 directory whose processes are load-balanced (default: the cgroup2 root). */
  cgroupPath?: string;
  /** The compiled program (default: the one hack/build-bpf.sh built). */
  objectPath?: string;
  families?: IPFamily[];
  dryRun?: boolean;
  /** Where --dry-run prints the map operations and the nft text (default: stdout). */
  print?: (text: string) => void;
}

export interface EbpfSyncStats extends SyncStats {
  /** Map operations written. */
  ops: number;
  /** Lines of the nft transaction (external traffic). */
  nftLines: number;
}

export class EbpfBackend implements Backend {
  readonly name = 'ebpf';
  private readonly opts: EbpfBackendOptions;
  private readonly tool: Bpftool;
  private readonly pins: Pins;
  private readonly planner: MapPlanner;
  private readonly netRun: Runner;
  private readonly table: NftTable;
  private readonly families: IPFamily[];
  /** The nft table as last applied: its skeleton and context, each service port's part, and who owns each element. */
  private nft: { ctx: ExternalContext; skeleton: string[]; ports: Map<string, ExternalPart>; owners: Map<string, string> } | undefined;
  /** The table may differ from this.nft (tampering found, a transaction failed): the next full sync replaces it. */
  private replaceNft = false;
  private cgroup: string | undefined;
  /** The maps may differ from what was planned (a batch failed midway): read them before the next full sync. */
  private dirty = false;
  /** Programs or pins went missing: load everything anew at the next full sync. */
  private reload = false;

  constructor(opts: EbpfBackendOptions) {
    this.opts = opts;
    this.tool = new Bpftool(opts.runner ?? processRunner());
    this.pins = pinsUnder(opts.pinPath ?? defaultPinPath);
    this.families = opts.families ?? ['IPv4', 'IPv6'];
    this.planner = new MapPlanner(this.families);
    this.netRun = opts.netRunner ?? opts.runner ?? processRunner();
    this.table = new NftTable(this.netRun);
  }

  private async cgroupPath(): Promise<string> {
    this.cgroup ??= this.opts.cgroupPath ?? (await cgroup2Root());
    return this.cgroup;
  }

  async setup(): Promise<void> {
    if (this.opts.dryRun) return;
    const cgroup = await this.cgroupPath();
    // A previous run's programs, maps and table are replaced, and the first sync is full; a
    // load that fails leaves none of them behind.
    await this.remove(cgroup);
    await this.loadPrograms(cgroup, () => this.remove(cgroup));
  }

  /**
   * Programs or pins went missing: load them anew. The nft table is left to the full sync
   * that follows (rewritten in place when it is as written, so NodePorts keep working and
   * ClientIP affinity is kept); a load that fails leaves it too.
   */
  private async reloadPrograms(): Promise<void> {
    const cgroup = await this.cgroupPath();
    await this.removePrograms(cgroup);
    await this.loadPrograms(cgroup, () => this.removePrograms(cgroup));
  }

  private async loadPrograms(cgroup: string, undo: () => Promise<void>): Promise<void> {
    const object = this.opts.objectPath ?? defaultObjectPath();
    try {
      await this.tool.ensureBpffs(this.pins);
      await this.tool.load(object, this.pins);
      await this.tool.attach(cgroup, this.pins);
    } catch (err) {
      await undo().catch(() => undefined);
      throw err;
    }
    this.planner.reset();
    this.dirty = false;
    this.reload = false;
    this.opts.logger.info(`socket load balancing on cgroup ${cgroup}: ${hooks.length} hooks, pins under ${this.pins.dir}`);
  }

  async sync(view: NodeView, changes: ViewChanges | undefined): Promise<EbpfSyncStats> {
    const full = changes === undefined || changes.node;
    if (full && this.reload) await this.reloadPrograms();
    let actual: Entries | undefined;
    if (full && this.dirty && !this.opts.dryRun) {
      actual = new Map();
      for (const m of writtenMaps) await this.tool.dump(m, this.pins, actual);
    }
    const ext = full || !this.nft ? await this.fullExternal(view) : this.partialExternal(view, changedKeys(changes, this.families));
    if (full || !this.nft) this.planner.setNodePortIPs(ext.nodePortIPs);
    const plan = this.planner.plan(view, full ? undefined : changes, actual);
    let written = { lines: 0, bytes: 0 };
    if (this.opts.dryRun) {
      const text = plan.ops.map((o) => batchLine(o, this.pins.mapDir)).join('\n');
      const print = this.opts.print ?? ((t: string) => process.stdout.write(t));
      print(`# kpng ebpf: ${plan.ops.length} map operation(s), ${full ? 'full' : 'partial'} sync\n${text}${text ? '\n' : ''}`);
      print(`# kpng ebpf: table ${nftTable}, ${full ? 'full' : 'partial'} sync, for nft -f -\n${ext.text}`);
    } else {
      try {
        written = await this.tool.batch(plan.ops, this.pins);
      } catch (err) {
        this.dirty = true;
        throw err;
      }
      // One transaction: on failure the table stays as it was, and the next full sync replaces it.
      try {
        await this.table.apply(ext.text, `${full ? 'full' : 'partial'} sync of table ${nftTable}`);
      } catch (err) {
        this.replaceNft = true;
        throw err;
      }
    }
    plan.commit();
    ext.commit();
    if (full) this.dirty = false;
    const nftLines = ext.text === '' ? 0 : ext.text.split('\n').length - 1;
    return { full, ops: plan.ops.length, nftLines, ...written, rulesPerTable: { ...this.planner.counts(), [nftTable]: this.nftRules() } };
  }

  private nftRules(): number {
    let n = 0;
    for (const p of this.nft?.ports.values() ?? []) for (const r of p.chains.values()) n += r.length;
    return n;
  }

  /** The whole nft table for `view` (replacing what is there), and where NodePorts answer. */
  private async fullExternal(view: NodeView) {
    const npa = this.opts.nodePortAddresses ?? [];
    const needsHost = npa.some((a) => a !== 'primary');
    const localAddresses = needsHost && !this.opts.dryRun ? await readHostAddresses(this.netRun, this.opts.logger) : [];
    const image = renderExternal(view, { families: this.families, nodePortAddresses: npa, localAddresses, ...(this.opts.masqueradeBit !== undefined && { masqueradeBit: this.opts.masqueradeBit }) });
    // A trusted table with the same skeleton is rewritten in place, keeping what the affinity sets learnt.
    const { text, owners } = fullTransaction(image, this.replaceNft ? undefined : this.nft);
    const ips = Object.fromEntries(this.families.map((f) => [f, nodePortIPs(image.ctx, f, localAddresses)]));
    return {
      text,
      nodePortIPs: ips,
      commit: () => {
        this.nft = { ctx: image.ctx, skeleton: image.skeleton, ports: image.ports, owners };
        this.replaceNft = false;
      },
    };
  }

  /** Only the changed service ports' chains and elements. */
  private partialExternal(view: NodeView, keys: Iterable<string>) {
    const nft = this.nft!;
    const list = [...keys];
    const after = new Map<string, ExternalPart>();
    for (const k of list) {
      const part = renderExternalPort(view, k, nft.ctx);
      if (part) after.set(k, part);
    }
    const tx = partialTransaction(nft.ports, after, list, nft.owners);
    return {
      text: tx.text,
      nodePortIPs: undefined,
      commit: () => {
        tx.commit(nft.owners);
        for (const k of list) {
          const part = after.get(k);
          if (part) nft.ports.set(k, part);
          else nft.ports.delete(k);
        }
      },
    };
  }

  /**
   * Programs detached or pins removed by someone else, or the nft table changed (a chain's
   * rule count or a map's element count differs, or the table is gone). Map contents are
   * checked at full syncs only after a failed write. The next full sync replaces the nft table.
   */
  async tampered(): Promise<boolean> {
    if (this.opts.dryRun) return false;
    const ok = (await pinsPresent(this.pins, allMaps)) && (await this.tool.attached(await this.cgroupPath())).length === hooks.length;
    if (!ok) this.reload = true;
    let why = '';
    if (this.nft) {
      const got = await this.table.counts();
      why = got ? countsDiffer(expectedCounts(this.nft.skeleton, this.nft.ports, this.nft.owners), got) : `table ${nftTable} is gone`;
      if (why) {
        this.opts.logger.warn(`table ${nftTable} was changed by someone else: ${why}`);
        this.replaceNft = true;
      }
    }
    return !ok || why !== '';
  }

  async cleanup(): Promise<void> {
    await this.remove(await this.cgroupPath());
  }

  private async removePrograms(cgroup: string): Promise<void> {
    const n = await this.tool.detachAll(cgroup);
    await removePins(this.pins);
    if (n > 0) this.opts.logger.info(`detached ${n} socket-LB program(s) from ${cgroup}, removed ${this.pins.dir}`);
  }

  /** Everything goes: the programs and pins, and the nft table (also when the first part fails). */
  private async remove(cgroup: string): Promise<void> {
    try {
      await this.removePrograms(cgroup);
    } finally {
      this.nft = undefined;
      if (await this.table.remove()) this.opts.logger.info(`deleted table ${nftTable}`);
    }
  }
}
