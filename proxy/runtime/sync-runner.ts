// The sync loop: a LocalSink that programs a Backend (kube-proxy's BoundedFrequencyRunner
// and the bookkeeping around syncProxyRules).
//
// - Coalescing: only the latest state matters. States handed while a sync runs (or while
//   waiting) replace each other; their change sets accumulate by union until a sync that
//   includes them succeeds.
// - Never two syncs at once, and at least --min-sync-period between the starts of two
//   syncs. The default is 0: a change is programmed as soon as the running sync (if any)
//   is done, with everything that arrived meanwhile in one go. kube-proxy's 1 s default
//   is what makes it slow to program a change; bursts coalesce here by themselves. A
//   change never waits longer than --min-sync-period plus the sync under way, however
//   busy the source (a new state never pushes the next sync back).
// - Full syncs (changes = undefined): the first one, the one after any failure, when the
//   backend reports tampering (checked every --sync-period), and at least hourly.
// - The tamper check does not hold up syncs: it runs beside them (the backend reads the
//   kernel without its lock and compares under it). Once it finds our rules changed, a full
//   sync follows at once and /healthz says 503 until one that began after the finding
//   has succeeded.
// - Failures: logged, counted, retried after a backoff (1 s doubling to 30 s); no sync is
//   attempted before the backoff has elapsed.
// - Each handed state becomes the model's NodeView once; the backend gets the view and
//   what differs from the view it last applied (per family and service port), the
//   metrics count kube-proxy's service and endpoint changes from the same change sets.
// - After each successful sync the afterSync hooks run with the previous and the new
//   applied state and what differs between them (healthCheckNodePort servers, UDP
//   conntrack cleanup).
// - stop() ends the loop and leaves the rules in place.
import type { Backend, SyncStats } from '../backends/backend.ts';
import { appendTriggerTimes, nodeView, viewChanges, type LocalChanges, type LocalState, type NodeView, type ViewChanges } from '../model/index.ts';
import type { LocalSink } from '../sinks/sink.ts';
import { systemClock, type Clock } from './clock.ts';
import { RuntimeError, messageOf } from './errors.ts';
import type { ProxyHealth } from './health-server.ts';
import type { Logger } from './log.ts';
import type { ChangeCounts, ProxyMetrics } from './metrics.ts';

/** What onLocal may be told about a state: when its triggering change was observed (ms since the epoch). */
export type LocalMeta = NonNullable<Parameters<LocalSink['onLocal']>[2]>;

/** A step after a successful sync: `changes` says what differs from prev to next (undefined when there is no prev). */
export type AfterSync = (prev: LocalState | undefined, next: LocalState, changes: ViewChanges | undefined) => Promise<void> | void;

export interface SyncRunnerOptions {
  backend: Backend;
  logger: Logger;
  /** --min-sync-period: least time between the starts of two syncs. Default 0. */
  minSyncPeriodMs?: number;
  /** --sync-period: how often to ask the backend whether its rules were tampered with. Default 30 s. */
  syncPeriodMs?: number;
  /** A full sync at least this often. Default 1 h (kube-proxy's). */
  fullSyncPeriodMs?: number;
  /** Delay before retrying a failed sync: initialMs, doubling per failure up to maxMs. Default 1 s → 30 s. */
  backoff?: { initialMs: number; maxMs: number };
  clock?: Clock;
  metrics?: ProxyMetrics;
  health?: ProxyHealth;
  /** Run in order after each successful sync; their errors are logged, never fatal. */
  afterSync?: readonly AfterSync[];
}

interface Pending {
  state: LocalState;
  view: NodeView;
  /** The generation of `state` (how many states had been handed when it came). */
  gen: number;
  /** Union of the change sets since the last successful sync: the keys that may differ from the applied view. */
  changes: LocalChanges;
  services: Set<string>;
  endpoints: Set<string>;
  changeTriggerTimes: number[];
  /** When the oldest of these changes was queued. */
  queuedAt: number;
}

function mergePending(older: Pending, newer: Pending): Pending {
  return {
    state: newer.state,
    view: newer.view,
    gen: newer.gen,
    changes: { servicePorts: new Set([...older.changes.servicePorts, ...newer.changes.servicePorts]), node: older.changes.node || newer.changes.node },
    services: new Set([...older.services, ...newer.services]),
    endpoints: new Set([...older.endpoints, ...newer.endpoints]),
    changeTriggerTimes: appendTriggerTimes([...older.changeTriggerTimes], newer.changeTriggerTimes),
    queuedAt: Math.min(older.queuedAt, newer.queuedAt),
  };
}

function pendingCounts(p: Pending | undefined): ChangeCounts {
  return { services: p?.services.size ?? 0, endpoints: p?.endpoints.size ?? 0 };
}

interface Waiter {
  gen: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SyncRunner implements LocalSink {
  readonly #backend: Backend;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #minSyncPeriod: number;
  readonly #syncPeriod: number;
  readonly #fullSyncPeriod: number;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #metrics: ProxyMetrics | undefined;
  readonly #health: ProxyHealth | undefined;
  readonly #afterSync: readonly AfterSync[];

  #started = false;
  #stopped = false;
  #busy = false;
  #current: Promise<void> | undefined;
  #timer: unknown;
  #timerDue = Infinity;
  #periodicTimer: unknown;

  #pending: Pending | undefined;
  #lastHanded: NodeView | undefined;
  #handedGen = 0;
  #applied: NodeView | undefined;
  #appliedGen = 0;
  #needFull = true;
  #fullRequested = false;
  #lastSyncStart = -Infinity;
  #lastFullSyncAt = -Infinity;
  #failures = 0;
  #retryAt: number | undefined;
  #lastFailure: { gen: number; error: RuntimeError } | undefined;
  #waiters: Waiter[] = [];
  #checking = false;
  #findings = 0;
  /** The finding (a count of findings) of tampering that no full sync has repaired yet. */
  #damage: number | undefined;

  constructor(opts: SyncRunnerOptions) {
    this.#backend = opts.backend;
    this.#logger = opts.logger;
    this.#clock = opts.clock ?? systemClock;
    this.#minSyncPeriod = opts.minSyncPeriodMs ?? 0;
    this.#syncPeriod = opts.syncPeriodMs ?? 30_000;
    this.#fullSyncPeriod = opts.fullSyncPeriodMs ?? 3_600_000;
    this.#backoff = opts.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.#metrics = opts.metrics;
    this.#health = opts.health;
    this.#afterSync = opts.afterSync ?? [];
  }

  /** Set the backend up (its errors are fatal and rejected here), then start syncing. */
  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    await this.#backend.setup();
    if (this.#stopped) return;
    this.#started = true;
    this.#armPeriodic();
    this.#schedule();
  }

  onLocal(state: LocalState, changes: LocalChanges, meta?: LocalMeta): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const view = nodeView(state);
    const kinds = viewChanges(this.#lastHanded, view, changes.servicePorts);
    this.#lastHanded = view;
    const incoming: Pending = {
      state,
      view,
      gen: ++this.#handedGen,
      changes: { servicePorts: new Set(changes.servicePorts), node: changes.node },
      services: new Set(kinds.services),
      endpoints: new Set(kinds.endpoints),
      changeTriggerTimes: [...(meta?.changeTriggerTimes ?? [])],
      queuedAt: now,
    };
    this.#pending = this.#pending ? mergePending(this.#pending, incoming) : incoming;
    this.#health?.syncNode(state.node);
    this.#health?.queuedUpdate();
    this.#metrics?.queued(now, { services: kinds.services.size, endpoints: kinds.endpoints.size });
    this.#metrics?.pending(pendingCounts(this.#pending));
    this.#schedule();
  }

  /**
   * Resolves once the latest state handed so far has been applied. Rejects with
   * KPNG_ERR_SYNC_FAILED when the sync that tried it failed (the runner goes on retrying),
   * and with KPNG_ERR_RUNNER_STOPPED when the runner stops first.
   */
  drain(): Promise<void> {
    const gen = this.#handedGen;
    if (gen === this.#appliedGen) return Promise.resolve();
    if (this.#lastFailure && this.#lastFailure.gen >= gen) return Promise.reject(this.#lastFailure.error);
    if (this.#stopped) return Promise.reject(stoppedError());
    return new Promise((resolve, reject) => this.#waiters.push({ gen, resolve, reject }));
  }

  /** Stop syncing (a sync under way finishes first). The dataplane keeps its rules. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    if (this.#periodicTimer !== undefined) this.#clock.clearTimeout(this.#periodicTimer);
    this.#timer = undefined;
    this.#periodicTimer = undefined;
    await this.#current;
    this.#settle(Infinity, stoppedError());
  }

  /** The state the dataplane was last successfully programmed with. */
  get applied(): LocalState | undefined {
    return this.#applied?.state;
  }

  #wantsSync(): boolean {
    return this.#pending !== undefined || (this.#fullRequested && this.#applied !== undefined);
  }

  #schedule(): void {
    if (!this.#started || this.#stopped || this.#busy || !this.#wantsSync()) return;
    const now = this.#clock.now();
    const due = Math.max(now, this.#lastSyncStart + this.#minSyncPeriod, this.#retryAt ?? -Infinity);
    if (this.#timer !== undefined) {
      if (this.#timerDue <= due) return;
      this.#clock.clearTimeout(this.#timer);
    }
    this.#timerDue = due;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      if (!this.#busy && !this.#stopped && this.#wantsSync()) void this.#exclusive(() => this.#sync());
    }, due - now);
  }

  /** Run one sync at a time. */
  #exclusive(task: () => Promise<void>): Promise<void> {
    this.#busy = true;
    const run = task()
      .catch((err: unknown) => this.#logger.error('sync loop error', { err }))
      .finally(() => {
        this.#busy = false;
        this.#current = undefined;
        this.#schedule();
      });
    this.#current = run;
    return run;
  }

  async #sync(): Promise<void> {
    const p = this.#pending;
    this.#pending = undefined;
    const view = p?.view ?? this.#applied;
    if (!view) return;
    const start = this.#clock.now();
    const full = this.#needFull || this.#fullRequested || p === undefined || start - this.#lastFullSyncAt >= this.#fullSyncPeriod;
    this.#fullRequested = false;
    this.#lastSyncStart = start;
    const repairs = full ? this.#damage : undefined;
    // What differs from the applied view: only the keys handed since can.
    const changes = this.#applied && viewChanges(this.#applied, view, p?.changes.servicePorts ?? []);
    let stats: SyncStats;
    try {
      stats = await this.#backend.sync(view, full ? undefined : changes);
    } catch (err) {
      this.#failed(p, full, err);
      return;
    }
    if (repairs !== undefined && repairs === this.#damage) {
      this.#damage = undefined;
      this.#health?.rulesRepaired();
      this.#logger.info('rules repaired by a full sync', { backend: this.#backend.name });
    }
    await this.#succeeded(p, view, changes, full, start, stats);
  }

  #failed(p: Pending | undefined, full: boolean, err: unknown): void {
    this.#failures++;
    const delay = Math.min(this.#backoff.initialMs * 2 ** (this.#failures - 1), this.#backoff.maxMs);
    this.#retryAt = this.#clock.now() + delay;
    this.#needFull = true;
    this.#metrics?.failed(full);
    this.#logger.error('sync failed; retrying with a full sync', { backend: this.#backend.name, full, attempt: this.#failures, retryInMs: delay, err });
    if (p) this.#pending = this.#pending ? mergePending(p, this.#pending) : p;
    else this.#fullRequested = true;
    this.#metrics?.pending(pendingCounts(this.#pending));
    if (!p) return;
    const error = new RuntimeError(
      'KPNG_ERR_SYNC_FAILED',
      `the ${this.#backend.name} backend failed to program the dataplane (${full ? 'full' : 'partial'} sync): ${messageOf(err)}; retrying in ${delay} ms with a full sync`,
      { cause: err },
    );
    this.#lastFailure = { gen: p.gen, error };
    this.#settle(p.gen, error);
  }

  async #succeeded(p: Pending | undefined, view: NodeView, changes: ViewChanges | undefined, full: boolean, start: number, stats: SyncStats): Promise<void> {
    const state = view.state;
    const end = this.#clock.now();
    this.#failures = 0;
    this.#retryAt = undefined;
    this.#needFull = false;
    this.#lastFailure = undefined;
    if (full) this.#lastFullSyncAt = start;
    const prev = this.#applied?.state;
    this.#applied = view;
    if (p) this.#appliedGen = p.gen;
    this.#health?.updated(this.#pending?.queuedAt);
    this.#logger.debug('synced', { full, ms: end - start, servicePorts: state.servicePorts.size, changed: full ? undefined : changes?.servicePorts.size });
    for (const hook of this.#afterSync) {
      try {
        await hook(prev, state, changes);
      } catch (err) {
        this.#logger.warn('after-sync step failed', { err });
      }
    }
    // The metrics (last-sync timestamp, pending changes) tell the sync only once its
    // after-sync steps are done, as drain() does: whoever waits on them for a change to be
    // in effect then also finds stale UDP flows gone and health check servers listening.
    this.#metrics?.synced({
      full,
      seconds: (end - start) / 1000,
      at: end,
      stats,
      state,
      programmingSeconds: p ? p.changeTriggerTimes.map((t) => (end - t) / 1000) : [],
    });
    this.#metrics?.pending(pendingCounts(this.#pending));
    this.#settle(this.#appliedGen);
  }

  /** Resolve (or reject with `error`) the drain() calls waiting for generations up to `gen`. */
  #settle(gen: number, error?: Error): void {
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.gen > gen) keep.push(w);
      else if (error) w.reject(error);
      else w.resolve();
    }
    this.#waiters = keep;
  }

  #armPeriodic(): void {
    if (this.#stopped) return;
    this.#periodicTimer = this.#clock.setTimeout(() => {
      this.#periodicTimer = undefined;
      void this.#periodic().finally(() => this.#armPeriodic());
    }, this.#syncPeriod);
  }

  /** A full sync is due anyway: the first, a retry after a failure, or one already requested. */
  #fullDue(): boolean {
    return this.#needFull || this.#fullRequested || this.#retryAt !== undefined;
  }

  /**
   * Every --sync-period: an hourly full sync when due, else ask the backend about
   * tampering. The check runs beside syncs (the backend keeps its reading consistent with
   * its own syncs), so a change never waits for it.
   */
  async #periodic(): Promise<void> {
    if (this.#stopped || !this.#applied || this.#fullDue() || this.#checking) return;
    if (this.#clock.now() - this.#lastFullSyncAt >= this.#fullSyncPeriod) {
      this.#logger.info('periodic full sync');
      this.#fullRequested = true;
      this.#schedule();
      return;
    }
    const tampered = this.#backend.tampered?.bind(this.#backend);
    if (!tampered) return;
    this.#checking = true;
    let yes: boolean;
    try {
      yes = await tampered();
    } catch (err) {
      this.#logger.warn('cannot tell whether the rules were tampered with; resyncing in full', { err });
      yes = true;
    } finally {
      this.#checking = false;
    }
    if (!yes || this.#stopped) return;
    this.#logger.warn('rules were changed by someone else; resyncing in full', { backend: this.#backend.name });
    this.#damage = ++this.#findings;
    this.#health?.rulesKnownWrong();
    this.#fullRequested = true;
    this.#schedule();
  }
}

function stoppedError(): RuntimeError {
  return new RuntimeError('KPNG_ERR_RUNNER_STOPPED', 'the sync runner was stopped before the latest state was applied');
}
