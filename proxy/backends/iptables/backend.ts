// The iptables backend: renders the node's view per IP family and applies it with
// ip(6)tables-restore --noflush. Full syncs read iptables-save to install missing jump
// rules and delete stale chains; partial syncs write only the changed service ports'
// chains (KEP-3453). Rules stay in place when the process exits.
import { LeftOut, RuleApplyError, checkAddressFlags, findRefused, firstErrorLine, readHostAddresses, withPorts, type Refusal } from '../common/index.ts';
import type { Backend, SyncStats } from '../backend.ts';
import type { IPFamily, NodeView, ViewChanges } from '../../model/index.ts';
import { cidrContains, ipFamilies, parseCIDR, parseIP } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import { planCleanup } from './cleanup.ts';
import { processRunner, type Runner, type RunResult } from './exec.ts';
import { binaries, detectMode, iptablesModes, type IptablesMode } from './mode.ts';
import { kubeProxyCanaryChain } from './names.ts';
import { planIptables, planResult, renderIptables, restoreInputChunks, writeRestoreInput, type IptablesPlan, type RenderOptions, type RenderResult, type SyncRecord } from './render.ts';
import { scanSave } from './rules.ts';
import { tamperCheckInput } from './tamper.ts';
import { errorText, type ErrorCode } from '../../errors.ts';

export const errIptablesRestore = 'KPNG_ERR_IPTABLES_RESTORE' satisfies ErrorCode;
export const errIptablesSetup = 'KPNG_ERR_IPTABLES_SETUP' satisfies ErrorCode;

const families = ipFamilies;

export interface IptablesBackendOptions {
  logger: Logger;
  /** --cluster-cidr: pod CIDRs (one per family). */
  clusterCIDRs?: readonly string[];
  masqueradeAll?: boolean;
  /** --nodeport-addresses: CIDRs and/or "primary"; empty: every local address. */
  nodePortAddresses?: readonly string[];
  /** --iptables-localhost-nodeports (default true). */
  localhostNodePorts?: boolean;
  masqueradeBit?: number;
  /** --iptables-mode (default auto). */
  mode?: IptablesMode | 'auto';
  /** --ip-families; default: every family whose tools work on this node. */
  families?: readonly IPFamily[];
  /** Print the restore input instead of applying it. */
  dryRun?: boolean;
  /** Seconds iptables-restore waits for the xtables lock (default 5). */
  lockWaitSeconds?: number;
  /** Runs the tools (default: on this host). */
  run?: Runner;
  /** Where --dry-run output goes (default: standard output). */
  write?: (text: string) => void;
  /** Test hook: changes the restore input just before it is applied. */
  transformInput?: (family: IPFamily, text: string) => string;
}

/** The line iptables-restore blamed: "Error occurred at line: N" (1.8) or "line N failed" (older). */
export function blamedLine(stderr: string): number | undefined {
  const m = /line:? (\d+)/i.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export class IptablesBackend implements Backend {
  readonly name = 'iptables';
  private readonly o: IptablesBackendOptions;
  private readonly log: Logger;
  private readonly run: Runner;
  private ready = false;
  private mode: IptablesMode = 'nft';
  private active: IPFamily[] = [];
  private conntrackTCPLiberal = false;
  private localAddresses: string[] | undefined;
  private readonly records = new Map<IPFamily, SyncRecord>();
  private needFull = true;
  private synced = false;
  private readonly leftOut: LeftOut;
  /** Changes at the start and at the end of every sync: odd while one runs. */
  private generation = 0;
  /** Full syncs and failed ones (which may leave anything) so far. */
  private fullSyncs = 0;

  constructor(opts: IptablesBackendOptions) {
    this.o = opts;
    this.log = opts.logger.child('iptables');
    this.run = opts.run ?? processRunner();
    this.leftOut = new LeftOut(this.log, 'iptables-restore');
    checkAddressFlags(opts.clusterCIDRs ?? [], opts.nodePortAddresses ?? [], (m) => new RuleSetupError(m));
  }

  /** The flavour in use (after setup). */
  get iptablesMode(): IptablesMode {
    return this.mode;
  }

  /** The families synced (after setup). */
  get ipFamilies(): readonly IPFamily[] {
    return this.active;
  }

  async setup(): Promise<void> {
    const o = this.o;
    if (o.dryRun) {
      this.mode = o.mode === 'legacy' ? 'legacy' : 'nft';
      this.active = [...(o.families ?? families)];
      this.ready = true;
      return;
    }
    if (o.mode === 'nft' || o.mode === 'legacy') this.mode = o.mode;
    else {
      const d = await detectMode(this.run);
      this.mode = d.mode;
      this.log.info('iptables mode detected', { mode: d.mode, reason: d.reason });
    }
    const usable: IPFamily[] = [];
    for (const f of o.families ?? families) {
      const bin = binaries(this.mode, f);
      const r = await this.run(bin.iptables, ['--wait=5', '-t', 'nat', '-S', 'POSTROUTING']);
      if (r.exitCode === 0) usable.push(f);
      else if (o.families) throw new RuleSetupError(`${bin.iptables} does not work here (exit ${r.exitCode ?? 'none'}): ${r.stderr.trim()}`);
      else this.log.warn(`${f} rules will not be synced: ${bin.iptables} does not work here`, { stderr: r.stderr.trim() });
    }
    if (usable.length === 0) throw new RuleSetupError(`neither iptables-${this.mode} nor ip6tables-${this.mode} works on this node`);
    this.active = usable;
    if (usable.includes('IPv4') && this.localhostNodePorts()) {
      const r = await this.run('sysctl', ['-w', 'net.ipv4.conf.all.route_localnet=1']);
      if (r.exitCode === 0) this.log.info('set route_localnet=1 so NodePorts answer on 127.0.0.1 (--iptables-localhost-nodeports=false turns this off)');
      else this.log.warn('could not set net.ipv4.conf.all.route_localnet=1: NodePorts will not answer on 127.0.0.1', { stderr: r.stderr.trim() });
    }
    const liberal = await this.run('sysctl', ['-n', 'net.netfilter.nf_conntrack_tcp_be_liberal']);
    this.conntrackTCPLiberal = liberal.exitCode === 0 && liberal.stdout.trim() !== '' && liberal.stdout.trim() !== '0';
    if (this.conntrackTCPLiberal) this.log.info('nf_conntrack_tcp_be_liberal is set: no DROP rule for INVALID packets');
    this.ready = true;
    this.log.info('iptables backend ready', { mode: this.mode, families: this.active.join(',') });
  }

  private localhostNodePorts(): boolean {
    if (this.o.localhostNodePorts === false) return false;
    const v4 = (this.o.nodePortAddresses ?? []).filter((a) => a !== 'primary' && parseCIDR(a)?.family === 'IPv4');
    if (v4.length === 0 && !(this.o.nodePortAddresses ?? []).includes('primary')) return true;
    const loopback = parseIP('127.0.0.1')!;
    return v4.some((c) => cidrContains(parseCIDR(c)!, loopback));
  }

  /** --nodeport-addresses with "primary" replaced by the node's IPs. */
  private nodePortCIDRs(view: NodeView): string[] {
    const out: string[] = [];
    for (const a of this.o.nodePortAddresses ?? []) {
      if (a !== 'primary') out.push(a);
      else for (const f of families) for (const ip of view.nodeIPs[f].slice(0, 1)) out.push(`${ip}/${f === 'IPv4' ? 32 : 128}`);
    }
    return out;
  }

  /**
   * Programs `view` but the service ports left out (see LeftOut). When the kernel refuses
   * the input, the service ports it refuses are found with `iptables-restore --test`, left
   * out, and the rest is programmed in a full sync; a refusal that is no service port's
   * doing fails the sync, as before.
   */
  async sync(view: NodeView, changes: ViewChanges | undefined): Promise<SyncStats> {
    this.generation++;
    try {
      const stats = await this.syncRules(view, changes);
      if (stats.full) this.fullSyncs++;
      return stats;
    } catch (err) {
      this.fullSyncs++;
      throw err;
    } finally {
      this.generation++;
    }
  }

  private async syncRules(view: NodeView, changes: ViewChanges | undefined): Promise<SyncStats> {
    if (!this.ready) await this.setup();
    if (changes === undefined) this.leftOut.retryRefused();
    const usable = this.leftOut.filter(view);
    try {
      return { ...(await this.syncOnce(usable, changes)), leftOut: this.leftOut.keys };
    } catch (err) {
      if (!(err instanceof RuleApplyError) || this.o.dryRun) throw err;
      const refused = await this.refusedPorts(usable);
      if (!refused) throw err;
      this.leftOut.refused(usable, refused);
      const stats = await this.syncOnce(this.leftOut.filter(view), undefined);
      return { ...stats, leftOut: this.leftOut.keys, refusedTransactions: 1 };
    }
  }

  /** The service ports of `view` whose rules iptables-restore --test refuses (undefined: none alone). */
  private async refusedPorts(view: NodeView): Promise<Refusal[] | undefined> {
    const nodePortAddresses = this.nodePortCIDRs(view);
    return findRefused([...view.state.servicePorts.keys()], async (keys) => {
      const subset = withPorts(view, keys);
      for (const family of this.active) {
        const { text } = renderIptables(subset, this.renderOptions(family, nodePortAddresses));
        const bin = binaries(this.mode, family).restore;
        const r = await this.run(bin, ['--noflush', '--test', `--wait=${this.o.lockWaitSeconds ?? 5}`], { input: text });
        if (r.exitCode !== 0) return `${family}: ${firstErrorLine(r.stderr, r.exitCode)}`;
      }
      return undefined;
    });
  }

  /** What every render of a family needs; a full sync adds `existing`, a partial one `partial`. */
  private renderOptions(family: IPFamily, nodePortAddresses: string[]): RenderOptions {
    return {
      family,
      clusterCIDRs: this.o.clusterCIDRs ?? [],
      masqueradeAll: this.o.masqueradeAll ?? false,
      nodePortAddresses,
      localAddresses: this.localAddresses ?? [],
      localhostNodePorts: this.o.localhostNodePorts ?? true,
      conntrackTCPLiberal: this.conntrackTCPLiberal,
      ...(this.o.masqueradeBit !== undefined && { masqueradeBit: this.o.masqueradeBit }),
    };
  }

  private async syncOnce(view: NodeView, changes: ViewChanges | undefined): Promise<SyncStats> {
    const full = changes === undefined || changes.node || this.needFull || this.active.some((f) => !this.records.has(f));
    const stats: SyncStats & { bytes: number; lines: number; rulesPerTable: Record<string, number> } = { full, bytes: 0, lines: 0, rulesPerTable: { filter: 0, nat: 0 } };
    const started = performance.now();
    try {
      const nodePortAddresses = this.nodePortCIDRs(view);
      const needAddresses = nodePortAddresses.length > 0 && !nodePortAddresses.every((c) => c.endsWith('/0'));
      if (needAddresses && !this.o.dryRun && (full || this.localAddresses === undefined)) this.localAddresses = await readHostAddresses(this.run, this.log);
      if (full) this.warnInactiveFamilies(view);
      const results: RenderResult[] = [];
      for (const family of this.active) {
        const prev = this.records.get(family);
        const existing = full && !this.o.dryRun ? scanSave(await this.save(family)) : undefined;
        const opts: RenderOptions = {
          ...this.renderOptions(family, nodePortAddresses),
          ...(!full && prev && changes && { partial: { changed: changes.families[family].ports, previous: prev } }),
          ...(existing && { existing }),
        };
        let result: RenderResult;
        if (this.o.dryRun || this.o.transformInput) {
          result = renderIptables(view, opts);
          const text = this.o.transformInput ? this.o.transformInput(family, result.text) : result.text;
          if (this.o.dryRun) this.print(family, result, text);
          else if (text !== '') await this.restore(family, text); // '': nothing of this family changed
          result = { ...result, bytes: Buffer.byteLength(text) };
        } else {
          // Written to iptables-restore as it is made, never joined: see restoreInputChunks.
          const plan = planIptables(view, opts);
          const size = await this.restorePlan(family, plan);
          result = { ...planResult(plan), text: '', ...size };
        }
        this.records.set(family, result.record);
        results.push(result);
        stats.bytes += result.bytes;
        stats.lines += result.lines;
        stats.rulesPerTable.filter! += result.rulesPerTable.filter;
        stats.rulesPerTable.nat! += result.rulesPerTable.nat;
      }
      this.needFull = false;
      this.synced = true;
      this.log.debug('synced', {
        full,
        ms: Math.round(performance.now() - started),
        families: results.map((r) => `${r.family}:${r.writtenServicePorts}/${r.servicePorts}${r.deletedChains.length ? ` -${r.deletedChains.length}` : ''}`).join(' '),
        bytes: stats.bytes,
      });
      return stats;
    } catch (err) {
      this.needFull = true;
      if (err instanceof RuleApplyError) this.log.error(err.message, { excerpt: err.excerpt() });
      throw err;
    }
  }

  private warnInactiveFamilies(view: NodeView): void {
    for (const f of families) {
      const n = this.active.includes(f) ? 0 : view.families[f].servicePorts.size;
      if (n > 0) this.log.warn(`${n} service ports have ${f} cluster IPs, but ${f} is not synced on this node`);
    }
  }

  private print(family: IPFamily, r: RenderResult, text: string): void {
    const bin = binaries(this.mode, family).restore;
    const header = `# kpng to-iptables --dry-run: ${family}, ${r.full ? 'full' : 'partial'} sync, for ${bin} --noflush\n`;
    (this.o.write ?? ((t: string) => process.stdout.write(t)))(header + text);
  }

  private async save(family: IPFamily, tables?: string): Promise<string> {
    const bin = binaries(this.mode, family).save;
    const r = await this.run(bin, tables ? ['-t', tables] : []);
    if (r.exitCode !== 0) throw new RuleSetupError(`${bin} failed (exit ${r.exitCode ?? 'none'}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  private async restore(family: IPFamily, text: string, mode: IptablesMode = this.mode, what: string = family): Promise<void> {
    const bin = binaries(mode, family).restore;
    const args = ['--noflush', `--wait=${this.o.lockWaitSeconds ?? 5}`];
    const r = await this.run(bin, args, { input: text });
    if (r.exitCode !== 0) throw this.restoreError(bin, args, r, text, what);
  }

  /**
   * Applies a plan's restore input, written in chunks as it is made; nothing when the plan
   * writes nothing (a partial sync that changed nothing of this family). What was written.
   */
  private async restorePlan(family: IPFamily, plan: IptablesPlan): Promise<{ lines: number; bytes: number }> {
    const size = { lines: 0, bytes: 0 };
    const chunks = restoreInputChunks(plan, size);
    const first = chunks.next();
    if (first.done) return size;
    const bin = binaries(this.mode, family).restore;
    const args = ['--noflush', `--wait=${this.o.lockWaitSeconds ?? 5}`];
    const r = await this.run(bin, args, { inputChunks: prepend(first.value, chunks) });
    // The input again for the error (the plan makes the same text): only on failure is it ever whole.
    if (r.exitCode !== 0) throw this.restoreError(bin, args, r, writeRestoreInput(plan).text, family);
    return size;
  }

  private restoreError(bin: string, args: string[], r: RunResult, text: string, what: string): RuleApplyError {
    const line = blamedLine(r.stderr);
    return new RuleApplyError({
      code: errIptablesRestore,
      command: [bin, ...args],
      input: text,
      exitCode: r.exitCode,
      stderr: r.stderr,
      ...(line !== undefined && { line }),
      what,
    });
  }

  /**
   * Whether someone else removed our rules since the last sync: kube-proxy's canary chain
   * gone from mangle, nat or filter (a table's chains deleted, as a firewalld reload does),
   * or a jump rule from the built-in chains or a rule of the fixed chains gone
   * (`iptables -t nat -F`, KUBE-SERVICES flushed): see tamper.ts. Per-service chains are not
   * checked: the hourly full sync rewrites them. Runs beside syncs; a finding that a full
   * sync, a sync still running or one that changed the fixed rules overlapped is dropped
   * (the next check looks again). Partial syncs leave the jump and fixed rules alone.
   */
  async tampered(): Promise<boolean> {
    if (this.o.dryRun || !this.synced) return false;
    const since = { generation: this.generation, fullSyncs: this.fullSyncs };
    for (const family of this.active) {
      const fixed = this.records.get(family)?.fixed;
      const why = await this.missingRules(family);
      if (why === undefined) continue;
      const overlapped = this.generation !== since.generation;
      if (overlapped && (this.generation % 2 === 1 || this.fullSyncs !== since.fullSyncs || this.records.get(family)?.fixed !== fixed)) {
        this.log.debug('a sync ran during the tamper check; its finding is dropped', { finding: why });
        return false;
      }
      this.log.warn(`${why}: rules were changed by someone else; the next sync is full`, { family });
      this.needFull = true;
      return true;
    }
    return false;
  }

  /** Why the kernel lacks rules of ours in this family, or undefined when it has them all. */
  private async missingRules(family: IPFamily): Promise<string | undefined> {
    const bin = binaries(this.mode, family);
    for (const table of ['mangle', 'nat', 'filter']) {
      const r = await this.run(bin.iptables, ['--wait=5', '-t', table, '-n', '-L', kubeProxyCanaryChain]);
      if (r.exitCode !== 0) return `canary chain ${kubeProxyCanaryChain} gone from ${table}`;
    }
    const record = this.records.get(family);
    if (!record) return undefined;
    const input = tamperCheckInput(record);
    const r = await this.run(bin.restore, ['--noflush', `--wait=${this.o.lockWaitSeconds ?? 5}`], { input });
    if (r.exitCode === 0) return undefined;
    const line = blamedLine(r.stderr);
    const rule = line !== undefined ? input.split('\n')[line - 1]?.replace(/^-C /, '') : undefined;
    return rule !== undefined ? `rule gone: ${rule}` : `a rule of ours is gone (${r.stderr.trim()})`;
  }

  /** Removes our chains and jump rules in both families and both flavours (kube-proxy's CleanupLeftovers). */
  async cleanup(): Promise<void> {
    const failures: Error[] = [];
    for (const mode of iptablesModes) {
      for (const family of families) {
        const bin = binaries(mode, family);
        const saved = await this.run(bin.save, []);
        if (saved.exitCode !== 0) {
          this.log.debug('nothing to clean up', { tool: bin.save, stderr: saved.stderr.trim() });
          continue;
        }
        const plan = planCleanup(saved.stdout);
        if (plan.kept.length > 0) this.log.warn('left in place: other rules still jump to them', { mode, family, chains: plan.kept.join(',') });
        if (plan.text === '') continue;
        if (this.o.dryRun) {
          (this.o.write ?? ((t: string) => process.stdout.write(t)))(`# kpng to-iptables --cleanup --dry-run: ${family} ${mode}, for ${bin.restore} --noflush\n${plan.text}`);
          continue;
        }
        try {
          await this.restore(family, plan.text, mode, `${family} ${mode} cleanup`);
          this.log.info('removed', { mode, family, chains: plan.deleted.length, jumps: plan.unlinked });
        } catch (err) {
          failures.push(err as Error);
        }
      }
    }
    this.records.clear();
    this.leftOut.clear();
    this.needFull = true;
    this.synced = false;
    if (failures.length > 0) throw failures[0];
  }
}

/** `first`, then the rest of `chunks`. */
function* prepend(first: string, chunks: Iterator<string, void, undefined>): Generator<string, void, undefined> {
  yield first;
  for (let c = chunks.next(); !c.done; c = chunks.next()) yield c.value;
}

/** The backend cannot start: bad options, or the node's iptables does not work. */
export class RuleSetupError extends Error {
  readonly code = errIptablesSetup;
  constructor(message: string) {
    super(errorText(errIptablesSetup, message));
    this.name = 'RuleSetupError';
  }
}
