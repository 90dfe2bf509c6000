// The nftables backend: keeps in memory what its last successful transaction left in the
// kernel, and sends each sync as ONE `nft -f -` transaction (every family) holding only
// the differences. See transaction.ts for the kinds of transaction and tamper.ts for what
// tampered() notices. Rules stay in place when the process exits; cleanup() deletes the
// tables.
import type { Backend, SyncStats } from '../backend.ts';
import { ipFamilies, type IPFamily, type NodeView, type ViewChanges } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import { LeftOut, RuleApplyError, checkAddressFlags, findRefused, firstErrorLine, processRunner, readHostAddresses, withPorts, type Refusal, type Runner } from '../common/index.ts';
import { applyTransaction, NftSetupError, nftCommand } from './exec.ts';
import { nftFamily, tableName } from './names.ts';
import { contextKey, familyContext, type FamilyContext, type RenderOptions } from './render.ts';
import { InconclusiveReading, chainBlocks, checkedContainers, countElements, listChain, listTable, missingRule, ruleHandles, type RuleRef } from './tamper.ts';
import { cleanupTransaction, nextStaleDue, planPartial, planReplace, planRewrite, planStaleDelete, type FamilyView, type Mode, type Plan } from './transaction.ts';

export interface NftBackendOptions extends Omit<RenderOptions, 'localAddresses' | 'conntrackTCPLiberal'> {
  logger: Logger;
  /** How nft (and sysctl, ip) are run (default: on this host). */
  run?: Runner;
  /** --ip-families; default: both (one table each). */
  families?: readonly IPFamily[];
  /** Print each transaction instead of applying it. */
  dryRun?: boolean;
  /** Where dry-run transactions go (default standard output). */
  write?: (text: string) => void;
  /** Test hook: changes a transaction just before it is sent (e.g. so that the kernel rejects it). */
  transformTransaction?: (text: string, mode: Mode) => string;
  /** How long a flushed chain waits before it is deleted (default 1000 ms). */
  staleChainDelayMs?: number;
  now?: () => number;
  /** Longest time one nft call may take (default 120 s). */
  timeoutMs?: number;
}

export interface NftSyncStats extends SyncStats {
  mode: Mode;
  /** Stale chains deleted by the transaction that ran before this sync's. */
  staleDeleted: number;
}

const allFamilies = ipFamilies;
/** nft processes a tamper check runs at once (it runs beside syncs: it leaves them a core). */
const readsAtOnce = 2;

/** Runs fn over items, `n` at a time, results in order. */
async function inBatches<T, R>(items: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(fn))));
  return out;
}

interface FixedChain {
  family: IPFamily;
  name: string;
  rules: number;
}

/** What one tamper check reads, and what it expects to find. */
interface CheckPlan {
  containers: Array<{ family: IPFamily; kind: 'set' | 'map'; name: string; elements: number }>;
  /** The fixed chains' rules as their baselines list them. */
  rules: RuleRef[];
  /** Fixed chains read in full: all of a family whose baselines are not all known (from its table's listing), else one in turn. */
  listings: FixedChain[];
  /** The families whose tables are listed (the fixed chains' baselines are learnt from them). */
  tables: IPFamily[];
}

interface CheckReading {
  elements: Array<number | undefined>;
  missing: RuleRef | undefined;
  /** Per planned listing, the chain's block; undefined when it is gone. */
  listings: Array<string | undefined>;
}

export class NftBackend implements Backend {
  readonly name = 'nftables';
  readonly #o: NftBackendOptions;
  readonly #run: Runner;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #delay: number;
  #families: IPFamily[];
  #ready = false;
  #conntrackTCPLiberal = false;
  #hostAddresses: string[] | undefined;
  /** What the kernel holds, per family; undefined when unknown (the next sync replaces the tables). */
  #views: Map<IPFamily, FamilyView> | undefined;
  /** Per fixed chain ("family\0name"), its block in a `nft -a list` at the first tamper check after our last full sync. */
  readonly #baselines = new Map<string, string>();
  /** Changes on every change we make to the tables (at its start and at its end). */
  #generation = 0;
  /** Changes after every change we make to the fixed chains (a sync other than a partial one). */
  #fixedGeneration = 0;
  /** Which fixed chain a check lists in full next, once all have baselines. */
  #turn = 0;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #leftOut: LeftOut;
  #timer: NodeJS.Timeout | undefined;
  #disposed = false;

  constructor(o: NftBackendOptions) {
    checkAddressFlags(o.clusterCIDRs ?? [], o.nodePortAddresses ?? [], (m) => new NftSetupError(m));
    this.#o = o;
    this.#run = o.run ?? processRunner();
    this.#log = o.logger;
    this.#leftOut = new LeftOut(o.logger, 'nft');
    this.#now = o.now ?? Date.now;
    this.#delay = o.staleChainDelayMs ?? 1000;
    this.#families = [...(o.families ?? allFamilies)];
  }

  /** The families synced (after setup). */
  get families(): readonly IPFamily[] {
    return this.#families;
  }

  /** Backend.ipFamilies: the families synced (after setup). */
  get ipFamilies(): readonly IPFamily[] {
    return this.#families;
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

  #write(text: string): void {
    (this.#o.write ?? ((t: string) => process.stdout.write(t)))(text);
  }

  /** Checks that nft can change this node's rules (a transaction nft checks and throws away), reads tcp_be_liberal. */
  async setup(): Promise<void> {
    if (this.#ready) return;
    if (this.#o.dryRun) {
      this.#ready = true;
      return;
    }
    const usable: IPFamily[] = [];
    for (const f of this.#families) {
      const r = await this.#run(nftCommand[0]!, ['-c', '-f', '-'], { input: `add table ${nftFamily(f)} ${tableName}\n`, timeoutMs: 10_000 });
      if (r.exitCode === 0) usable.push(f);
      else {
        const why = r.stderr.trim() || `exit code ${r.exitCode ?? 'none (not installed?)'}`;
        if (this.#o.families) throw new NftSetupError(`nft cannot create the ${nftFamily(f)} ${tableName} table here: ${why}`);
        this.#log.warn(`${f} rules will not be synced: nft cannot create the ${nftFamily(f)} ${tableName} table here`, { stderr: why });
      }
    }
    if (usable.length === 0) throw new NftSetupError('nft cannot create tables on this node (needs nft ≥ 1.0.1, nf_tables and CAP_NET_ADMIN)');
    this.#families = usable;
    const liberal = await this.#run('sysctl', ['-n', 'net.netfilter.nf_conntrack_tcp_be_liberal']);
    this.#conntrackTCPLiberal = liberal.exitCode === 0 && liberal.stdout.trim() !== '' && liberal.stdout.trim() !== '0';
    if (this.#conntrackTCPLiberal) this.#log.info('nf_conntrack_tcp_be_liberal is set: no drop rule for INVALID packets');
    this.#ready = true;
    this.#log.info('nftables backend ready', { families: usable.join(','), tables: usable.map((f) => `${nftFamily(f)} ${tableName}`).join(', ') });
  }

  async #renderOptions(full: boolean): Promise<RenderOptions> {
    const { clusterCIDRs, masqueradeAll, nodePortAddresses, masqueradeBit } = this.#o;
    const needsHost = (nodePortAddresses ?? []).some((a) => a !== 'primary');
    if (needsHost && !this.#o.dryRun && (full || this.#hostAddresses === undefined)) this.#hostAddresses = await readHostAddresses(this.#run, this.#log);
    return {
      ...(clusterCIDRs && { clusterCIDRs }),
      ...(masqueradeAll !== undefined && { masqueradeAll }),
      ...(nodePortAddresses && { nodePortAddresses }),
      ...(masqueradeBit !== undefined && { masqueradeBit }),
      conntrackTCPLiberal: this.#conntrackTCPLiberal,
      ...(needsHost && { localAddresses: this.#hostAddresses ?? [] }),
    };
  }

  async #send(plan: Plan, what: string): Promise<string> {
    const text = this.#o.transformTransaction ? this.#o.transformTransaction(plan.text, plan.mode) : plan.text;
    if (text === '') return text;
    if (this.#o.dryRun) this.#write(`# kpng to-nft --dry-run: ${what}, for ${nftCommand.join(' ')}\n${text}`);
    else await applyTransaction(this.#run, text, what, this.#o.timeoutMs ?? 120_000);
    return text;
  }

  /** Drop everything known about the kernel: the next sync replaces the tables. */
  #forget(): void {
    this.#views = undefined;
    this.#fixedGeneration++;
    this.#baselines.clear();
  }

  /**
   * Programs `view` but the service ports left out (see LeftOut). When the kernel refuses
   * the transaction, the service ports it refuses are found with `nft -c -f`, left out, and
   * the rest is programmed (the tables replaced); a refusal that is no service port's doing
   * fails the sync, as before.
   */
  sync(view: NodeView, changes: ViewChanges | undefined): Promise<NftSyncStats> {
    return this.#serial(() =>
      this.#changing(async () => {
        if (!this.#ready) await this.setup();
        if (changes === undefined) this.#leftOut.retryRefused();
        const usable = this.#leftOut.filter(view);
        try {
          return { ...(await this.#sync(usable, changes)), leftOut: this.#leftOut.keys };
        } catch (err) {
          if (!(err instanceof RuleApplyError) || this.#o.dryRun) throw err;
          const refused = await this.#refusedPorts(usable);
          if (!refused) throw err;
          this.#leftOut.refused(usable, refused);
          const stats = await this.#sync(this.#leftOut.filter(view), undefined);
          return { ...stats, leftOut: this.#leftOut.keys, refusedTransactions: 1 };
        }
      }),
    );
  }

  /** Runs a change to the tables; a tamper check that read the kernel meanwhile ignores its reading. */
  async #changing<T>(fn: () => Promise<T>): Promise<T> {
    this.#generation++;
    try {
      return await fn();
    } finally {
      this.#generation++;
    }
  }

  /** The service ports of `view` whose rules `nft -c` refuses in a replace of the tables (undefined: none alone). */
  async #refusedPorts(view: NodeView): Promise<Refusal[] | undefined> {
    const o = await this.#renderOptions(true);
    return findRefused([...view.state.servicePorts.keys()], async (keys) => {
      const { plan } = planReplace(withPorts(view, keys), this.#families, o);
      const r = await this.#run(nftCommand[0]!, ['-c', '-f', '-'], { input: plan.text, timeoutMs: this.#o.timeoutMs ?? 120_000 });
      return r.exitCode === 0 ? undefined : firstErrorLine(r.stderr, r.exitCode);
    });
  }

  async #sync(node: NodeView, changes: ViewChanges | undefined): Promise<NftSyncStats> {
    if (!this.#ready) await this.setup();
    const started = performance.now();
    const staleDeleted = this.#views ? await this.#deleteStale() : 0;
    let views = this.#views;
    const wantsPartial = views !== undefined && changes !== undefined && !changes.node;
    const o = await this.#renderOptions(!wantsPartial);
    let ctxs: Map<IPFamily, FamilyContext> | undefined;
    if (views && wantsPartial) {
      ctxs = new Map(this.#families.map((f) => [f, familyContext(node, f, o)]));
      // Something every service port depends on changed (node IPs, NodePort addresses): rewrite all.
      if (![...ctxs].every(([f, ctx]) => views!.get(f)?.context === contextKey(ctx))) ctxs = undefined;
    }
    let plan: Plan;
    // The planners change the views as if the transaction succeeds: forget them if it does not.
    this.#views = undefined;
    try {
      if (!views) ({ plan, views } = planReplace(node, this.#families, o));
      else if (ctxs && changes) plan = planPartial(views, node, changes, ctxs, this.#now());
      else plan = planRewrite(views, node, this.#families, o, this.#now());
      const sent = await this.#send(plan, plan.mode === 'partial' ? 'partial sync' : `full sync (${plan.mode})`);
      plan = { ...plan, text: sent, lines: sent === '' ? 0 : sent.split('\n').length - 1, bytes: Buffer.byteLength(sent) };
    } catch (err) {
      this.#forget();
      if (err instanceof RuleApplyError) this.#log.error(`${err.message}; the next sync replaces the tables`, { excerpt: err.excerpt() });
      throw err;
    }
    this.#views = views;
    // The fixed chains changed: tampered() takes their listings afresh at its next check.
    if (plan.mode !== 'partial') {
      this.#fixedGeneration++;
      this.#baselines.clear();
    }
    this.#schedule();
    const rules = [...views.values()].reduce((n, v) => n + v.rules, 0);
    const fields = { mode: plan.mode, ms: Math.round(performance.now() - started), lines: plan.lines, bytes: plan.bytes, rules, written: JSON.stringify(plan.written), staleDeleted };
    if (plan.mode === 'partial') this.#log.debug('synced', fields);
    else this.#log.info('synced', fields);
    return { full: plan.mode !== 'partial', mode: plan.mode, bytes: plan.bytes, lines: plan.lines, staleDeleted };
  }

  /** Deletes the chains flushed at least staleChainDelayMs ago, in one transaction. Returns how many. */
  deleteStaleChains(): Promise<number> {
    return this.#serial(() => this.#changing(() => this.#deleteStale()));
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
        void this.#serial(() => this.#changing(() => this.#deleteStale())).then(() => this.#schedule());
      },
      Math.max(0, due - this.#now()) + 10,
    );
    this.#timer.unref();
  }

  /** The fixed chains of every family: the ones tampered() reads. */
  #fixedChains(views: ReadonlyMap<IPFamily, FamilyView>): FixedChain[] {
    return [...views].flatMap(([family, v]) => v.global.chains.map((c) => ({ family, name: c.name, rules: c.rules.length })));
  }

  #checkPlan(views: ReadonlyMap<IPFamily, FamilyView>): CheckPlan {
    const containers: CheckPlan['containers'] = [];
    for (const [family, v] of views) {
      const counts = new Map<string, number>();
      for (const [elemId] of v.elements.all()) {
        const name = elemId.slice(0, elemId.indexOf('\u0000'));
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      for (const c of v.global.containers) if (checkedContainers.has(c.name)) containers.push({ family, kind: c.kind, name: c.name, elements: counts.get(c.name) ?? 0 });
    }
    const chains = this.#fixedChains(views);
    const rules: RuleRef[] = [];
    const tables = new Set<IPFamily>();
    for (const c of chains) {
      const seen = this.#baselines.get(`${c.family}\u0000${c.name}`);
      if (seen === undefined) tables.add(c.family);
      else for (const handle of ruleHandles(seen)) rules.push({ family: c.family, chain: c.name, handle });
    }
    const listings = tables.size > 0 ? chains.filter((c) => tables.has(c.family)) : chains.length > 0 ? [chains[this.#turn++ % chains.length]!] : [];
    return { containers, rules, listings, tables: [...tables] };
  }

  async #read(plan: CheckPlan): Promise<CheckReading> {
    const elements = await inBatches(plan.containers, readsAtOnce, (c) => countElements(this.#run, c.family, c.kind, c.name));
    const missing = await missingRule(this.#run, plan.rules);
    let listings: Array<string | undefined>;
    if (plan.tables.length > 0) {
      const byFamily = new Map<IPFamily, Map<string, string>>();
      for (const f of plan.tables) byFamily.set(f, chainBlocks((await listTable(this.#run, f)) ?? ''));
      listings = plan.listings.map((c) => byFamily.get(c.family)?.get(c.name));
    } else {
      listings = await inBatches(plan.listings, readsAtOnce, async (c) => chainBlocks((await listChain(this.#run, c.family, c.name)) ?? '').get(c.name));
    }
    return { elements, missing, listings };
  }

  /**
   * Whether someone else changed our tables since our last sync: a table gone; a key map or
   * set (the Service IPs, NodePorts, no-endpoint and firewall maps, the ClusterIP and NodePort
   * IP sets) holding another number of elements than we wrote (flushed, say); a rule of a
   * fixed chain (base, dispatch and check chains) gone (a chain flushed); or a fixed chain
   * listed otherwise than after our last full sync (a rule added or replaced; one chain a
   * check, in turn). The kernel is read without holding up syncs. A reading that a sync
   * overlapped is not judged: the element counts if any sync did, the fixed chains if a
   * sync other than a partial one did (partial syncs leave them alone); the next check
   * reads again. Per-service chains and their elements in other sets are not checked: the
   * hourly full sync rewrites them.
   */
  async tampered(): Promise<boolean> {
    if (this.#o.dryRun) return false;
    // Planned between syncs (a sync under way holds its views aside until it is done).
    const start = await this.#serial(async () => {
      const views = this.#views;
      return views && { views, since: { any: this.#generation, fixed: this.#fixedGeneration }, plan: this.#checkPlan(views) };
    });
    if (!start) return true;
    const { views, since, plan } = start;
    let reading: CheckReading;
    try {
      reading = await this.#read(plan);
    } catch (err) {
      if (!(err instanceof InconclusiveReading)) throw err;
      this.#log.warn('tamper check inconclusive; the next one reads again', { err: err.message });
      return false;
    }
    return this.#serial(async () => {
      const elements = this.#generation === since.any;
      const fixed = this.#fixedGeneration === since.fixed && this.#views === views;
      if (!elements) this.#log.debug('a sync ran during the tamper check: its element counts are dropped', { fixedChainsJudged: fixed });
      return this.#judge(plan, reading, { elements, fixed });
    });
  }

  #judge(plan: CheckPlan, reading: CheckReading, judge: { elements: boolean; fixed: boolean }): boolean {
    if (!judge.fixed) return false;
    for (const [i, c] of plan.containers.entries()) {
      if (!judge.elements) break;
      const n = reading.elements[i];
      const where = `${c.kind} ${nftFamily(c.family)} ${tableName} ${c.name}`;
      if (n === undefined) return this.#report(`${where} is gone`);
      if (n !== c.elements) return this.#report(`${where} holds ${n} elements, not ${c.elements}`);
    }
    const gone = reading.missing;
    if (gone) return this.#report(`rule ${gone.handle} of chain ${nftFamily(gone.family)} ${tableName} ${gone.chain} is gone`);
    for (const [i, c] of plan.listings.entries()) {
      const text = reading.listings[i];
      const where = `${nftFamily(c.family)} ${tableName} ${c.name}`;
      if (text === undefined) return this.#report(`chain ${where} is gone`);
      const n = ruleHandles(text).length;
      if (n !== c.rules) return this.#report(`chain ${where} holds ${n} rules, not ${c.rules}`);
      const key = `${c.family}\u0000${c.name}`;
      const seen = this.#baselines.get(key);
      if (seen === undefined) this.#baselines.set(key, text);
      else if (seen !== text) return this.#report(`chain ${where} was changed`);
    }
    return false;
  }

  #report(what: string): boolean {
    this.#log.warn(`${what} (by someone else); the next sync replaces the tables`);
    this.#forget();
    return true;
  }

  /** Deletes both tables (ip kpng, ip6 kpng), whichever exist. */
  cleanup(): Promise<void> {
    return this.#serial(() => this.#changing(async () => {
      this.#clearTimer();
      const text = cleanupTransaction(allFamilies);
      if (this.#o.dryRun) this.#write(`# kpng to-nft --cleanup --dry-run: for ${nftCommand.join(' ')}\n${text}`);
      else await applyTransaction(this.#run, text, 'cleanup', this.#o.timeoutMs ?? 120_000);
      this.#forget();
      this.#leftOut.clear();
      if (!this.#o.dryRun) this.#log.info('deleted the tables', { tables: allFamilies.map((f) => `${nftFamily(f)} ${tableName}`).join(', ') });
    }));
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
