// The nftables backend: keeps in memory what its last successful transaction left in the
// kernel, and sends each sync as ONE `nft -f -` transaction (both families) holding only
// the differences. See transaction.ts for the three kinds of transaction and tamper.ts for
// what tampered() notices.
import type { Backend, SyncStats } from '../backend.ts';
import type { IPFamily, LocalChanges, LocalState } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import { applyTransaction, processRunner, type Runner } from './exec.ts';
import { familyContext, contextKey, type FamilyContext, type RenderOptions } from './render.ts';
import { listChain, rulesInListing, tableHandles } from './tamper.ts';
import { cleanupTransaction, nextStaleDue, planPartial, planReplace, planRewrite, planStaleDelete, type FamilyView, type Mode, type Plan } from './transaction.ts';
import { nftFamily, tableName } from './names.ts';
import { networkInterfaces } from 'node:os';

export interface NftBackendOptions extends Omit<RenderOptions, 'localAddresses'> {
  logger: Logger;
  /** How nft is run (default: on this host). */
  run?: Runner;
  /** The families to program (default both: one table each). */
  families?: readonly IPFamily[];
  /** Print each transaction instead of applying it. */
  dryRun?: boolean;
  /** Where dry-run transactions go (default standard output). */
  print?: (text: string) => void;
  /** The host's interface addresses, for --nodeport-addresses CIDRs (default: this host's interfaces). */
  hostAddresses?: () => string[];
  /** Test hook: changes a transaction just before it is sent (e.g. to make nft reject it). */
  transformTransaction?: (text: string, mode: Mode) => string;
  /** How long a flushed chain waits before it is deleted (default 1000 ms). */
  staleChainDelayMs?: number;
  /** Fixed chains listed per family by each tampered() call, in turn (default 4; 0 = all). */
  tamperChainsPerCheck?: number;
  now?: () => number;
  /** Longest time one nft call may take (default 120 s). */
  timeoutMs?: number;
}

export interface NftSyncStats extends SyncStats {
  mode: Mode;
  /** Stale chains deleted by the transaction that ran before this sync's. */
  staleDeleted: number;
}

function defaultHostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .map((a) => a.address.split('%')[0]!);
}

export class NftBackend implements Backend {
  readonly name = 'nftables';
  readonly families: readonly IPFamily[];
  readonly #o: NftBackendOptions;
  readonly #run: Runner;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #delay: number;
  /** What the kernel holds, per family; undefined when unknown (the next sync replaces the tables). */
  #views: Map<IPFamily, FamilyView> | undefined;
  /** Table handles after our last replace; per fixed chain the listing first seen after our last full sync. */
  #handles: Map<IPFamily, number> | undefined;
  readonly #baselines = new Map<string, string>();
  #rotation = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #disposed = false;

  constructor(o: NftBackendOptions) {
    this.#o = o;
    this.#run = o.run ?? processRunner();
    this.#log = o.logger;
    this.#now = o.now ?? Date.now;
    this.#delay = o.staleChainDelayMs ?? 1000;
    this.families = o.families ?? ['IPv4', 'IPv6'];
  }

  /** Whether the backend knows what its tables hold (false: the next sync replaces them). */
  get known(): boolean {
    return this.#views !== undefined;
  }

  /** What the backend believes its tables hold (for tests and tools). */
  get views(): ReadonlyMap<IPFamily, FamilyView> | undefined {
    return this.#views;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  #renderOptions(): RenderOptions {
    const { clusterCIDRs, masqueradeAll, nodePortAddresses, conntrackTCPLiberal, masqueradeBit } = this.#o;
    const needsHost = (nodePortAddresses ?? []).some((a) => a !== 'primary');
    return {
      ...(clusterCIDRs && { clusterCIDRs }),
      ...(masqueradeAll !== undefined && { masqueradeAll }),
      ...(nodePortAddresses && { nodePortAddresses }),
      ...(conntrackTCPLiberal !== undefined && { conntrackTCPLiberal }),
      ...(masqueradeBit !== undefined && { masqueradeBit }),
      ...(needsHost && { localAddresses: (this.#o.hostAddresses ?? defaultHostAddresses)() }),
    };
  }

  async setup(): Promise<void> {
    if (this.#o.dryRun) return;
    const r = await this.#run('nft', ['-j', 'list', 'tables'], { timeoutMs: 10_000 });
    if (r.exitCode !== 0) {
      const err = new Error(`KPNG_ERR_NFT_UNAVAILABLE: cannot run nft (exit code ${r.exitCode ?? 'none'}): ${r.stderr.trim() || 'no output'}`);
      throw Object.assign(err, { code: 'KPNG_ERR_NFT_UNAVAILABLE' });
    }
  }

  async #send(plan: Plan, what: string): Promise<string> {
    const text = this.#o.transformTransaction ? this.#o.transformTransaction(plan.text, plan.mode) : plan.text;
    if (text === '') return text;
    if (this.#o.dryRun) (this.#o.print ?? ((t: string) => process.stdout.write(t)))(text);
    else await applyTransaction(this.#run, text, what, this.#o.timeoutMs ?? 120_000);
    return text;
  }

  /** Drop everything known about the kernel: the next sync replaces the tables. */
  #forget(): void {
    this.#views = undefined;
    this.#handles = undefined;
    this.#baselines.clear();
  }

  sync(state: LocalState, changes: LocalChanges | undefined): Promise<NftSyncStats> {
    return this.#serial(() => this.#sync(state, changes));
  }

  async #sync(state: LocalState, changes: LocalChanges | undefined): Promise<NftSyncStats> {
    const staleDeleted = this.#views ? await this.#deleteStale() : 0;
    const o = this.#renderOptions();
    let mode: Mode;
    let plan: Plan;
    let views = this.#views;
    let ctxs: Map<IPFamily, FamilyContext> | undefined;
    if (views && changes && !changes.node) {
      ctxs = new Map(this.families.map((f) => [f, familyContext(state, f, o)]));
      const same = [...ctxs].every(([f, ctx]) => views!.get(f)?.context === contextKey(ctx));
      if (!same) ctxs = undefined;
    }
    // From here on the views are mutated as if the transaction succeeds: forget them if it does not.
    this.#views = undefined;
    try {
      if (!views) {
        const r = planReplace(state, this.families, o);
        plan = r.plan;
        views = r.views;
      } else if (ctxs && changes) plan = planPartial(views, state, changes.servicePorts, ctxs, this.#now());
      else plan = planRewrite(views, state, this.families, o, this.#now());
      mode = plan.mode;
      const sent = await this.#send(plan, mode === 'partial' ? 'partial sync' : `full sync (${mode})`);
      plan = { ...plan, text: sent, lines: sent === '' ? 0 : sent.split('\n').length - 1, bytes: Buffer.byteLength(sent) };
    } catch (err) {
      this.#forget();
      this.#log.error('nftables transaction failed; the next sync replaces the tables', { err });
      throw err;
    }
    this.#views = views;
    if (mode !== 'partial') {
      this.#baselines.clear();
      if (mode === 'replace') this.#handles = await this.#readHandles();
    }
    this.#schedule();
    const rulesPerTable: Record<string, number> = {};
    for (const [f, v] of views) rulesPerTable[f === 'IPv4' ? tableName : `${f}/${tableName}`] = v.rules;
    const log = mode === 'partial' ? this.#log.debug : this.#log.info;
    log.call(this.#log, `nftables ${mode === 'partial' ? 'partial' : 'full'} sync`, { mode, lines: plan.lines, bytes: plan.bytes, staleDeleted });
    return { full: mode !== 'partial', mode, bytes: plan.bytes, lines: plan.lines, rulesPerTable, staleDeleted };
  }

  async #readHandles(): Promise<Map<IPFamily, number> | undefined> {
    if (this.#o.dryRun) return undefined;
    try {
      return await tableHandles(this.#run);
    } catch (err) {
      this.#log.warn('cannot read the table handles; recording them at the next tamper check', { err });
      return undefined;
    }
  }

  /** Deletes the chains flushed at least staleChainDelayMs ago, in one transaction. Returns how many. */
  deleteStaleChains(): Promise<number> {
    return this.#serial(() => this.#deleteStale());
  }

  async #deleteStale(): Promise<number> {
    const views = this.#views;
    if (!views) return 0;
    const { plan, deleted } = planStaleDelete(views, this.#now(), this.#delay);
    if (deleted.length === 0) return 0;
    try {
      await this.#send(plan, 'stale chain deletion');
    } catch (err) {
      this.#forget();
      this.#log.error('deleting stale chains failed; the next sync replaces the tables', { err });
      return 0;
    }
    this.#log.debug('deleted stale chains', { chains: deleted.length });
    return deleted.length;
  }

  #schedule(): void {
    if (this.#disposed || this.#timer !== undefined || !this.#views) return;
    const due = nextStaleDue(this.#views, this.#delay);
    if (due === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        void this.#serial(() => this.#deleteStale()).then(() => this.#schedule());
      },
      Math.max(0, due - this.#now()) + 10,
    );
    this.#timer.unref();
  }

  tampered(): Promise<boolean> {
    return this.#serial(() => this.#tampered());
  }

  async #tampered(): Promise<boolean> {
    if (this.#o.dryRun) return false;
    const views = this.#views;
    if (!views) return true;
    const handles = await tableHandles(this.#run);
    for (const f of this.families) {
      const h = handles.get(f);
      if (h === undefined) return this.#report(`the ${nftFamily(f)} ${tableName} table is gone`);
      const known = this.#handles?.get(f);
      if (known !== undefined && known !== h) return this.#report(`the ${nftFamily(f)} ${tableName} table was re-created by someone else`);
    }
    this.#handles = handles;
    const fixed = [...views].flatMap(([f, v]) => v.global.chains.map((c) => ({ f, name: c.name, rules: c.rules.length })));
    const per = this.#o.tamperChainsPerCheck ?? 4;
    const perFamily = Math.max(1, Math.ceil(fixed.length / Math.max(1, views.size)));
    const count = per <= 0 ? fixed.length : Math.min(fixed.length, per * views.size);
    const start = per <= 0 ? 0 : (this.#rotation * per) % perFamily;
    this.#rotation++;
    const picked = per <= 0 ? fixed : [...views.keys()].flatMap((f) => {
      const mine = fixed.filter((c) => c.f === f);
      return Array.from({ length: Math.min(mine.length, count / views.size) }, (_, i) => mine[(start + i) % mine.length]!);
    });
    const listings = await Promise.all(picked.map((c) => listChain(this.#run, c.f, c.name)));
    for (let i = 0; i < picked.length; i++) {
      const c = picked[i]!;
      const text = listings[i];
      const where = `${nftFamily(c.f)} ${tableName} ${c.name}`;
      if (text === undefined) return this.#report(`chain ${where} is gone`);
      const n = rulesInListing(text);
      if (n !== c.rules) return this.#report(`chain ${where} holds ${n} rules, not ${c.rules}`);
      const key = `${c.f}\u0000${c.name}`;
      const seen = this.#baselines.get(key);
      if (seen === undefined) this.#baselines.set(key, text);
      else if (seen !== text) return this.#report(`chain ${where} was changed`);
    }
    return false;
  }

  #report(what: string): boolean {
    this.#log.warn(`${what}; forgetting what the tables hold`);
    this.#forget();
    return true;
  }

  cleanup(): Promise<void> {
    return this.#serial(async () => {
      this.#clearTimer();
      const plan: Plan = { mode: 'replace', text: cleanupTransaction(), lines: 4, bytes: 0, written: {} };
      if (this.#o.dryRun) (this.#o.print ?? ((t: string) => process.stdout.write(t)))(plan.text);
      else await applyTransaction(this.#run, plan.text, 'cleanup');
      this.#forget();
      this.#log.info('deleted the kpng tables', { tables: ['ip kpng', 'ip6 kpng'] });
    });
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stops the stale-chain timer (the rules stay). */
  dispose(): void {
    this.#disposed = true;
    this.#clearTimer();
  }
}
