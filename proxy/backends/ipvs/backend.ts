// The ipvs backend: per IP family, virtual servers through `ipvsadm -R`, ipsets through
// `ipset restore`, the few iptables rules through `iptables-restore --noflush` (in the
// flavour the node uses, detected as the iptables backend detects it), and the service
// addresses on the kube-ipvs0 dummy interface through `ip -batch -`. A full sync reads the
// kernel back (ipvsadm -S -n, ipset save, ip addr, iptables-save) and writes the
// differences; a partial sync replans the service ports the view's change set names, per
// family, and writes what they changed of what the last sync wrote.
//
// ipvsadm-restore is `ipvsadm -C` followed by `ipvsadm -R`: it would delete every virtual
// server, and with them every connection, at each sync. The backend writes the same input
// to `ipvsadm -R` alone, with explicit -D/-d/-e lines for what goes.
import { RuleApplyError, checkAddressFlags, type Runner } from '../common/index.ts';
import { processRunner } from '../common/exec.ts';
import type { Backend, SyncStats } from '../backend.ts';
import { cidrContains, ipFamilies, parseCIDR, parseIP, type IPFamily, type NodeView, type ViewChanges } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import { binaries, detectMode, iptablesModes, type IptablesMode } from '../iptables/mode.ts';
import { scanSave } from '../iptables/rules.ts';
import { blamedLine } from '../iptables/backend.ts';
import { Drainer } from './drain.ts';
import { parseIpsetSave, renderIpsetDestroy, type SetMembers } from './ipset.ts';
import { IpvsTable, parseConnections, parseIpvsSave } from './ipvsadm.ts';
import { renderIptablesCleanup } from './iptables.ts';
import { allSetNames, dummyDevice, setDefs, setName } from './names.ts';
import { PlanIndex } from './plan-index.ts';
import { createSets, familyTable, renderFamily, renderPartial, type KernelView, type RenderOptions } from './render.ts';
import { parseIpsetTerse, setsTampered, tamperCheckInput } from './tamper.ts';
import { ipvsErrorText, type IpvsErrorCode } from './errors.ts';
import type { ErrorCode } from '../../errors.ts';

export const errIpvsSetup = 'KPNG_ERR_IPVS_SETUP' satisfies IpvsErrorCode;
export const errIpvsadm = 'KPNG_ERR_IPVSADM' satisfies IpvsErrorCode;
export const errIpsetRestore = 'KPNG_ERR_IPSET_RESTORE' satisfies IpvsErrorCode;
export const errIpvsIptablesRestore = 'KPNG_ERR_IPTABLES_RESTORE' satisfies ErrorCode;
export const errIpvsAddress = 'KPNG_ERR_IPVS_ADDRESS' satisfies IpvsErrorCode;

const families = ipFamilies;

/** The IPVS schedulers kube-proxy accepts. */
export const ipvsSchedulers = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh'] as const;

/** sysctls the ipvs mode needs (kube-proxy sets them too). */
export const ipvsSysctls: ReadonlyArray<[string, string]> = [
  ['net.ipv4.vs.conntrack', '1'],
  ['net.ipv4.vs.expire_nodest_conn', '1'],
  ['net.ipv4.vs.expire_quiescent_template', '1'],
  ['net.ipv4.ip_forward', '1'],
];

export interface IpvsBackendOptions {
  logger: Logger;
  clusterCIDRs?: readonly string[];
  masqueradeAll?: boolean;
  /** --nodeport-addresses CIDRs and/or "primary"; empty: every local address but loopback. */
  nodePortAddresses?: readonly string[];
  masqueradeBit?: number;
  families?: readonly IPFamily[];
  /** --ipvs-scheduler (default rr). */
  scheduler?: string;
  /** --iptables-mode (default auto). */
  mode?: IptablesMode | 'auto';
  dryRun?: boolean;
  /** How long a real server may drain before it is deleted anyway (default 15 min). */
  drainTimeoutMs?: number;
  run?: Runner;
  write?: (text: string) => void;
  /** Clock for the drain timeout (tests). */
  now?: () => number;
  /** Test hook: changes an input just before it is applied. */
  transformInput?: (tool: 'ipvsadm' | 'ipset' | 'iptables' | 'addresses', family: IPFamily, text: string) => string;
}

/** What the last sync left in the kernel, for one family. */
interface Mirror {
  ipvs: IpvsTable;
  /** The plan it wrote, per service port (its set members and kube-ipvs0 addresses are the kernel's). */
  index: PlanIndex;
  /** The iptables-restore input, jump rules left out. */
  iptablesText: string;
}

export class IpvsBackend implements Backend {
  readonly name = 'ipvs';
  private readonly o: IpvsBackendOptions;
  private readonly log: Logger;
  private readonly run: Runner;
  private readonly now: () => number;
  private ready = false;
  private mode: IptablesMode = 'nft';
  private active: IPFamily[] = [];
  private readonly mirrors = new Map<IPFamily, Mirror>();
  private needFull = true;
  /** Odd while a sync runs; a tamper check that saw it change drops its finding. */
  private generation = 0;
  private nodeAddresses: string[] | undefined;
  readonly drainer: Drainer;

  constructor(opts: IpvsBackendOptions) {
    this.o = opts;
    this.log = opts.logger.child('ipvs');
    this.run = opts.run ?? processRunner();
    this.now = opts.now ?? Date.now;
    this.drainer = new Drainer(opts.drainTimeoutMs);
    checkAddressFlags(opts.clusterCIDRs ?? [], opts.nodePortAddresses ?? [], (m) => new IpvsSetupError(m));
    const s = opts.scheduler ?? 'rr';
    if (!(ipvsSchedulers as readonly string[]).includes(s)) throw new IpvsSetupError(`--ipvs-scheduler=${s}: accepted: ${ipvsSchedulers.join(', ')}`);
  }

  get ipFamilies(): readonly IPFamily[] {
    return this.active;
  }

  async setup(): Promise<void> {
    const o = this.o;
    this.active = [...(o.families ?? families)];
    if (o.dryRun) {
      this.mode = o.mode === 'legacy' ? 'legacy' : 'nft';
      this.ready = true;
      return;
    }
    const probe = await this.run('ipvsadm', ['-S', '-n']);
    if (probe.exitCode !== 0) throw new IpvsSetupError(`IPVS does not work on this node (ipvsadm -S -n: ${probe.stderr.trim() || `exit ${probe.exitCode ?? 'none'}`}); the kernel needs the ip_vs modules`);
    this.drainer.adopt(parseIpvsSave(probe.stdout), this.now());
    if (o.mode === 'nft' || o.mode === 'legacy') this.mode = o.mode;
    else this.mode = (await detectMode(this.run)).mode;
    for (const [k, v] of ipvsSysctls) {
      const r = await this.run('sysctl', ['-w', `${k}=${v}`]);
      if (r.exitCode !== 0) this.log.warn(`could not set ${k}=${v}`, { stderr: r.stderr.trim() });
    }
    const link = await this.run('ip', ['link', 'show', dummyDevice]);
    if (link.exitCode !== 0) {
      const r = await this.run('ip', ['link', 'add', dummyDevice, 'type', 'dummy']);
      if (r.exitCode !== 0) throw new IpvsSetupError(`cannot create the ${dummyDevice} dummy interface: ${r.stderr.trim()}`);
    }
    for (const f of this.active) await this.apply('ipset', ['restore'], createSets(f), errIpsetRestore, `${f} sets`);
    this.ready = true;
    this.log.info('ipvs backend ready', { mode: this.mode, families: this.active.join(','), scheduler: o.scheduler ?? 'rr' });
  }

  private renderOptions(view: NodeView, family: IPFamily, local: readonly string[]): RenderOptions {
    const o = this.o;
    const ofFamily = (a: string) => parseIP(a)?.family === family;
    const nodeIPs = view.nodeIPs[family];
    const cidrs: string[] = [];
    for (const a of o.nodePortAddresses ?? []) {
      if (a === 'primary') for (const ip of nodeIPs.slice(0, 1)) cidrs.push(`${ip}/${family === 'IPv4' ? 32 : 128}`);
      else if (parseCIDR(a)?.family === family) cidrs.push(a);
    }
    const usable = local.filter(ofFamily);
    const nodePortIPs =
      cidrs.length === 0 && (o.nodePortAddresses ?? []).length === 0
        ? usable
        : usable.filter((a) => cidrs.some((c) => cidrContains(parseCIDR(c)!, parseIP(a)!)));
    return {
      family,
      scheduler: o.scheduler ?? 'rr',
      nodePortIPs: [...new Set(nodePortIPs)].sort(),
      otherLocalAddresses: usable,
      clusterCIDRs: o.clusterCIDRs ?? [],
      masqueradeAll: o.masqueradeAll ?? false,
      ...(o.masqueradeBit !== undefined && { masqueradeBit: o.masqueradeBit }),
    };
  }

  /** The node's addresses outside kube-ipvs0, loopback and link-local ones left out. */
  private async readNodeAddresses(view: NodeView): Promise<string[]> {
    if (this.o.dryRun) return families.flatMap((f) => view.nodeIPs[f]);
    const r = await this.run('ip', ['-j', 'addr', 'show']);
    if (r.exitCode !== 0) throw new IpvsSetupError(`cannot list the node's addresses: ${r.stderr.trim()}`);
    const links = JSON.parse(r.stdout) as Array<{ ifname?: string; addr_info?: Array<{ local?: string }> }>;
    return links
      .filter((l) => l.ifname !== dummyDevice)
      .flatMap((l) => (l.addr_info ?? []).map((a) => a.local ?? ''))
      .filter((a) => {
        const ip = parseIP(a);
        if (!ip) return false;
        if (ip.family === 'IPv4') return ip.bytes[0] !== 127;
        return a !== '::1' && !(ip.bytes[0] === 0xfe && (ip.bytes[1]! & 0xc0) === 0x80);
      });
  }

  private async readKernel(family: IPFamily): Promise<KernelView> {
    const save = await this.run('ipvsadm', ['-S', '-n']);
    if (save.exitCode !== 0) throw new IpvsSetupError(`ipvsadm -S -n failed: ${save.stderr.trim()}`);
    const sets = parseIpsetSave((await this.run('ipset', ['save'])).stdout);
    const ours: SetMembers = new Map();
    for (const d of setDefs) {
      const s = sets.get(setName(d, family));
      if (s) ours.set(s.name, s.members);
    }
    const addr = await this.run('ip', ['-j', `-${family === 'IPv6' ? 6 : 4}`, 'addr', 'show', 'dev', dummyDevice]);
    const bound = new Set<string>();
    if (addr.exitCode === 0 && addr.stdout.trim() !== '') {
      for (const l of JSON.parse(addr.stdout) as Array<{ addr_info?: Array<{ local?: string }> }>) for (const a of l.addr_info ?? []) if (a.local) bound.add(a.local);
    }
    const ipt = await this.run(binaries(this.mode, family).save, []);
    return {
      ipvs: familyTable(parseIpvsSave(save.stdout), family),
      sets: ours,
      bound,
      ...(ipt.exitCode === 0 && { iptablesSaved: scanSave(ipt.stdout) }),
    };
  }

  async sync(view: NodeView, changes: ViewChanges | undefined): Promise<SyncStats> {
    if (!this.ready) await this.setup();
    const full = changes === undefined || changes.node || this.needFull || this.active.some((f) => !this.mirrors.has(f));
    const stats = { full, bytes: 0, lines: 0 };
    this.generation++;
    try {
      if (full || this.nodeAddresses === undefined) this.nodeAddresses = await this.readNodeAddresses(view);
      for (const family of this.active) {
        const opts = this.renderOptions(view, family, this.nodeAddresses);
        if (this.o.dryRun) {
          this.print(renderFamily(view, opts));
          continue;
        }
        const mirror = this.mirrors.get(family);
        let r: ReturnType<typeof renderPartial>;
        let next: Mirror;
        if (full || !mirror || !changes) {
          const kernel = await this.readKernel(family);
          const fr = renderFamily(view, opts, kernel);
          r = fr;
          next = { ipvs: kernel.ipvs, index: new PlanIndex(family, fr.ports), iptablesText: '' };
        } else {
          const ports = changes.families[family].ports;
          if (ports.size === 0) continue;
          r = renderPartial(view, opts, mirror.index, mirror, ports.keys());
          next = mirror;
        }
        const tx = this.o.transformInput;
        if (tx) {
          r.ipset = tx('ipset', family, r.ipset);
          r.addresses = tx('addresses', family, r.addresses);
          r.ipvsadm = tx('ipvsadm', family, r.ipvsadm);
          r.iptables = tx('iptables', family, r.iptables);
        }
        if (r.ipset !== '') await this.apply('ipset', ['restore'], r.ipset, errIpsetRestore, family);
        if (r.addresses !== '') await this.apply('ip', [`-${family === 'IPv6' ? 6 : 4}`, '-batch', '-'], r.addresses, errIpvsAddress, family);
        if (r.ipvsadm !== '') await this.apply('ipvsadm', ['-R'], r.ipvsadm, errIpvsadm, family);
        if (r.iptables !== '') await this.apply(binaries(this.mode, family).restore, ['--noflush', '--wait=5'], r.iptables, errIpvsIptablesRestore, family);
        next.ipvs.apply(r.ipvsadm);
        if (full) next.iptablesText = r.iptables.replace(/^-I .*\n/gm, '');
        else if (r.iptables !== '') next.iptablesText = r.iptables;
        this.mirrors.set(family, next);
        this.drainer.note(r.draining, r.undrained, this.now());
        for (const t of [r.ipvsadm, r.ipset, r.iptables, r.addresses]) {
          stats.bytes += Buffer.byteLength(t);
          stats.lines += t === '' ? 0 : t.split('\n').length - 1;
        }
      }
      if (!this.o.dryRun && this.drainer.size > 0) await this.drain();
      this.needFull = false;
      return stats;
    } catch (err) {
      this.needFull = true;
      throw err;
    } finally {
      this.generation++;
    }
  }

  /**
   * Whether someone removed rules or sets of ours since the last sync: a jump rule from a
   * built-in chain, a rule of our chains (`iptables -t nat -F`, a chain flushed), a set
   * destroyed or whose members changed (`ipset flush`). See tamper.ts. A finding a sync
   * overlapped is dropped (the next check looks again); a finding makes the next sync full,
   * which rewrites the rules and sets.
   */
  async tampered(): Promise<boolean> {
    if (this.o.dryRun || this.needFull || this.mirrors.size === 0) return false;
    const since = this.generation;
    if (since % 2 === 1) return false;
    const why = await this.missing();
    if (why === undefined) return false;
    if (this.generation !== since || this.needFull) {
      this.log.debug('a sync ran during the tamper check; its finding is dropped', { finding: why });
      return false;
    }
    this.log.warn(`${why}: rules or sets were changed by someone else; the next sync is full`);
    this.needFull = true;
    return true;
  }

  /** Why the kernel lacks rules or set members of ours, or undefined when it has them all. */
  private async missing(): Promise<string | undefined> {
    const want = new Map<string, number>();
    for (const [family, m] of this.mirrors) for (const d of setDefs) want.set(setName(d, family), m.index.members(setName(d, family)));
    const sets = await this.run('ipset', ['list', '-t']);
    if (sets.exitCode !== 0) return `ipset list -t failed (${sets.stderr.trim()})`;
    const setWhy = setsTampered(parseIpsetTerse(sets.stdout), want);
    if (setWhy !== undefined) return setWhy;
    for (const [family, m] of this.mirrors) {
      const input = tamperCheckInput(m.iptablesText);
      if (input === '') continue;
      const r = await this.run(binaries(this.mode, family).restore, ['--noflush', '--wait=5'], { input });
      if (r.exitCode === 0) continue;
      const line = blamedLine(r.stderr);
      const rule = line !== undefined ? input.split('\n')[line - 1]?.replace(/^-C /, '') : undefined;
      return rule !== undefined ? `${family} rule gone: ${rule}` : `${family}: a rule of ours is gone (${r.stderr.trim()})`;
    }
    return undefined;
  }

  /** Deletes the draining real servers whose connections are gone (or that drained too long). */
  async drain(): Promise<string[]> {
    const r = await this.run('ipvsadm', ['-L', '-n', '-c']);
    if (r.exitCode !== 0) {
      this.log.warn('cannot read the IPVS connection list; draining real servers stay', { stderr: r.stderr.trim() });
      return [];
    }
    const connections = parseConnections(r.stdout);
    // One sweep over both families' tables: the drainer forgets what neither holds.
    const both = new IpvsTable();
    for (const m of this.mirrors.values()) for (const [k, vs] of m.ipvs.services) both.services.set(k, vs);
    const sweep = this.drainer.sweep(both, connections, this.now());
    if (sweep.text === '') return [];
    await this.apply('ipvsadm', ['-R'], sweep.text, errIpvsadm, 'drained real servers');
    for (const [family, m] of this.mirrors) {
      const lines = sweep.text.split('\n').filter((l) => l !== '' && l.includes('[') === (family === 'IPv6'));
      if (lines.length > 0) m.ipvs.apply(lines.join('\n'));
    }
    const deleted = sweep.deleted;
    if (deleted.length > 0) this.log.info('deleted drained real servers', { realServers: deleted.join(',') });
    return deleted;
  }

  private print(r: ReturnType<typeof renderFamily>): void {
    const w = this.o.write ?? ((t: string) => process.stdout.write(t));
    w(`# kpng to-ipvs --dry-run: ${r.family}, for ipvsadm -R\n${r.ipvsadm}`);
    w(`# kpng to-ipvs --dry-run: ${r.family}, for ipset restore\n${r.ipset}`);
    w(`# kpng to-ipvs --dry-run: ${r.family}, for ${binaries(this.mode, r.family).restore} --noflush\n${r.iptables}`);
    w(`# kpng to-ipvs --dry-run: ${r.family}, for ip -batch - (${dummyDevice})\n${r.addresses}`);
  }

  private async apply(file: string, args: string[], input: string, code: IpvsErrorCode | ErrorCode, what: string): Promise<void> {
    const r = await this.run(file, args, { input });
    if (r.exitCode === 0) return;
    const line = blamedLine(r.stderr);
    throw new RuleApplyError({ code, command: [file, ...args], input, exitCode: r.exitCode, stderr: r.stderr, ...(line !== undefined && { line }), what });
  }

  /** Removes everything: every virtual server (ipvsadm -C, as kube-proxy flushes), kube-ipvs0, our chains and jump rules (both flavours and families), then our sets. */
  async cleanup(): Promise<void> {
    const dry = this.o.dryRun;
    const w = this.o.write ?? ((t: string) => process.stdout.write(t));
    const step = async (what: string, file: string, args: string[], input?: string) => {
      if (dry) return w(`# kpng to-ipvs --cleanup --dry-run: ${what}: ${[file, ...args].join(' ')}\n${input ?? ''}`);
      const r = await this.run(file, args, input !== undefined ? { input } : {});
      if (r.exitCode !== 0) this.log.debug(`cleanup: ${what}`, { stderr: r.stderr.trim() });
    };
    await step('virtual servers', 'ipvsadm', ['-C']);
    await step('dummy interface', 'ip', ['link', 'del', dummyDevice]);
    const failures: Error[] = [];
    for (const mode of iptablesModes) {
      for (const family of families) {
        const bin = binaries(mode, family);
        const saved = await this.run(bin.save, []);
        if (saved.exitCode !== 0) continue;
        const text = renderIptablesCleanup(scanSave(saved.stdout));
        if (text === '') continue;
        if (dry) w(`# kpng to-ipvs --cleanup --dry-run: ${family} ${mode}, for ${bin.restore} --noflush\n${text}`);
        else await this.apply(bin.restore, ['--noflush', '--wait=5'], text, errIpvsIptablesRestore, `${family} ${mode} cleanup`).catch((e: Error) => failures.push(e));
      }
    }
    const sets = await this.run('ipset', ['list', '-n']);
    const text = renderIpsetDestroy(sets.exitCode === 0 ? sets.stdout.split('\n').map((l) => l.trim()) : [], allSetNames());
    if (text !== '') {
      if (dry) w(`# kpng to-ipvs --cleanup --dry-run: for ipset restore\n${text}`);
      else await this.apply('ipset', ['restore'], text, errIpsetRestore, 'cleanup').catch((e: Error) => failures.push(e));
    }
    this.mirrors.clear();
    this.drainer.clear();
    this.needFull = true;
    if (failures.length > 0) throw failures[0];
  }
}

/** The backend cannot start: bad options, or the node lacks what IPVS needs. */
export class IpvsSetupError extends Error {
  readonly code = errIpvsSetup;
  constructor(message: string) {
    super(ipvsErrorText(errIpvsSetup, message));
    this.name = 'IpvsSetupError';
  }
}
