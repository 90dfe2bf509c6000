// The userspace backend (kube-proxy's userspace mode, KPNG's userspacelin): the proxy
// itself carries the traffic. Each frontend the node serves gets a listening socket of
// its own (TCP or UDP, every address of its family, a port the kernel picks); nat rules
// redirect the frontend into it (rules.ts); connections are balanced over the endpoint
// set the model chose (frontends.ts, pool.ts). Listeners and their ports live as long as
// their frontend, so an endpoint change touches no rule: the pool takes the new set for
// the next connection and closes what went to an endpoint that left. Rules stay in place
// when the process exits (they then lead to closed ports: refused).
import { RuleApplyError, type Runner } from '../common/index.ts';
import type { Backend, SyncStats } from '../backend.ts';
import { ipFamilies, parseCIDR, type IPFamily, type NodeView, type ViewChanges } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import { binaries, detectMode, processRunner, type IptablesMode } from '../iptables/index.ts';
import { planPort, poolKey, unservable, type Frontend, type PortPlan, type TrafficClass } from './frontends.ts';
import { targetKey } from './round-robin.ts';
import { Pool } from './pool.ts';
import { chains, checkInput, jumpRules, renderRules, restoreInput, type JumpRule, type RenderedRules, type ServedFrontend } from './rules.ts';
import { TcpListener } from './tcp-listener.ts';
import { UdpListener } from './udp-listener.ts';
import { userspaceErrorText, type userspaceErrors } from './errors.ts';

export const errUserspaceRestore = 'KPNG_ERR_USERSPACE_RESTORE' satisfies keyof typeof userspaceErrors;
export const errUserspaceSetup = 'KPNG_ERR_USERSPACE_SETUP' satisfies keyof typeof userspaceErrors;

const allFamilies = ipFamilies;

export interface UserspaceBackendOptions {
  logger: Logger;
  /** --iptables-mode (default auto). */
  mode?: IptablesMode | 'auto';
  /** --ip-families; default: every family whose ip(6)tables works here. */
  families?: readonly IPFamily[];
  /** --nodeport-addresses: CIDRs and/or "primary"; empty: every local address. */
  nodePortAddresses?: readonly string[];
  /** --udp-timeout: a UDP session idle this long is closed. */
  udpTimeoutMs?: number;
  /** --drain-timeout: how long stop() lets established connections finish. */
  drainTimeoutMs?: number;
  /** --buffer-bytes: what each socket buffers before its peer is paused. */
  bufferBytes?: number;
  /** --connect-timeout: one connect to an endpoint. */
  connectTimeoutMs?: number;
  /** Seconds ip(6)tables-restore waits for the xtables lock (default 5). */
  lockWaitSeconds?: number;
  run?: Runner;
}

type Listener = TcpListener | UdpListener;

export class UserspaceBackend implements Backend {
  readonly name = 'userspace';
  readonly #o: UserspaceBackendOptions;
  readonly #log: Logger;
  readonly #run: Runner;
  #ready = false;
  #mode: IptablesMode = 'nft';
  #active: IPFamily[] = [];
  /** The plans last synced, per family and service port. */
  readonly #plans = new Map<IPFamily, Map<string, PortPlan>>();
  readonly #pools = new Map<string, Pool>();
  readonly #listeners = new Map<string, Listener>();
  /** The rules last applied per family. */
  readonly #applied = new Map<IPFamily, RenderedRules>();
  #needFull = true;
  #stopping = false;

  constructor(o: UserspaceBackendOptions) {
    this.#o = o;
    this.#log = o.logger.child('userspace');
    this.#run = o.run ?? processRunner();
    for (const a of o.nodePortAddresses ?? []) if (a !== 'primary' && !parseCIDR(a)) throw new UserspaceSetupError(`--nodeport-addresses=${a}: accepted: CIDRs and/or "primary"`);
  }

  get iptablesMode(): IptablesMode {
    return this.#mode;
  }

  get ipFamilies(): readonly IPFamily[] {
    return this.#active;
  }

  /** The listening port of a frontend (by Frontend.key), for tests and inspection. */
  portOf(frontendKey: string): number | undefined {
    return this.#listeners.get(frontendKey)?.port;
  }

  /** The endpoints (address#port) a service port's traffic of one class is balanced over now, for tests and inspection. */
  targetsOf(servicePort: string, family: IPFamily, traffic: TrafficClass): string[] | undefined {
    return this.#pools.get(poolKey(servicePort, family, traffic))?.rr.targets.map(targetKey);
  }

  /** Connections and UDP sessions open now, over every pool. */
  get openConnections(): number {
    let n = 0;
    for (const p of this.#pools.values()) n += p.open.size;
    return n;
  }

  async setup(): Promise<void> {
    const o = this.#o;
    if (o.mode === 'nft' || o.mode === 'legacy') this.#mode = o.mode;
    else {
      const d = await detectMode(this.#run);
      this.#mode = d.mode;
      this.#log.info('iptables mode detected', { mode: d.mode, reason: d.reason });
    }
    const usable: IPFamily[] = [];
    for (const f of o.families ?? allFamilies) {
      const bin = binaries(this.#mode, f);
      const r = await this.#run(bin.iptables, ['--wait=5', '-t', 'nat', '-S', 'PREROUTING']);
      if (r.exitCode === 0) usable.push(f);
      else if (o.families) throw new UserspaceSetupError(`${bin.iptables} does not work here (exit ${r.exitCode ?? 'none'}): ${r.stderr.trim()}`);
      else this.#log.warn(`${f} will not be proxied: ${bin.iptables} does not work here`, { stderr: r.stderr.trim() });
    }
    if (usable.length === 0) throw new UserspaceSetupError(`neither iptables-${this.#mode} nor ip6tables-${this.#mode} works on this node`);
    this.#active = usable;
    this.#ready = true;
    this.#log.info('userspace backend ready', { mode: this.#mode, families: usable.join(',') });
  }

  async sync(view: NodeView, changes: ViewChanges | undefined): Promise<SyncStats> {
    if (!this.#ready) await this.setup();
    if (this.#stopping) throw new UserspaceSetupError('the backend is stopping');
    const full = changes === undefined || changes.node || this.#needFull;
    try {
      const stats = await this.#sync(view, full ? undefined : changes);
      this.#needFull = false;
      return { ...stats, full };
    } catch (err) {
      this.#needFull = true;
      if (err instanceof RuleApplyError) this.#log.error(err.message, { excerpt: err.excerpt() });
      throw err;
    }
  }

  /** `changes` undefined: full (every plan, pool and rule rewritten); else only what differs in each family. */
  async #sync(view: NodeView, changes: ViewChanges | undefined): Promise<Omit<SyncStats, 'full'>> {
    // 1. The plans: all of them (full) or, per family, the service ports that differ in it.
    const changedIn = (family: IPFamily) => changes?.families[family].ports;
    for (const family of this.#active) {
      const ports = view.families[family].servicePorts;
      const changed = changedIn(family);
      let plans = this.#plans.get(family);
      if (!plans || changed === undefined) this.#plans.set(family, (plans = new Map()));
      for (const key of changed?.keys() ?? ports.keys()) {
        const fsp = ports.get(key);
        const plan = fsp && planPort(fsp);
        if (plan) plans.set(key, plan);
        else plans.delete(key);
      }
    }
    // 2. Pools take their new sets; listeners are opened for new frontends.
    const wantedPools = new Set<string>();
    const wantedListeners = new Map<string, Frontend>();
    let closed = 0;
    for (const [family, plans] of this.#plans) {
      const changed = changedIn(family);
      for (const plan of plans.values()) {
        for (const traffic of ['internal', 'external'] as const) {
          const key = poolKey(plan.servicePort, family, traffic);
          wantedPools.add(key);
          if (changed !== undefined && !changed.has(plan.servicePort) && this.#pools.has(key)) continue;
          let pool = this.#pools.get(key);
          if (!pool) this.#pools.set(key, (pool = new Pool(key)));
          closed += pool.update(traffic === 'internal' ? plan.internal : plan.external, plan.affinityTimeoutMs);
        }
        for (const f of plan.frontends) wantedListeners.set(f.key, f);
      }
    }
    if (closed > 0) this.#log.info('closed connections to endpoints that left', { count: closed });
    const opened = await Promise.all([...wantedListeners.values()].filter((f) => !this.#listeners.has(f.key)).map(async (f) => [f.key, await this.#open(f)] as const));
    for (const [key, l] of opened) this.#listeners.set(key, l);
    // 3. The rules, where they differ from what is applied (or in full).
    const stats = { bytes: 0, lines: 0, rulesPerTable: { nat: 0, filter: 0 } };
    for (const family of this.#active) {
      const served: ServedFrontend[] = [];
      for (const plan of this.#plans.get(family)!.values()) {
        for (const f of plan.frontends) {
          const port = this.#listeners.get(f.key)?.port;
          served.push(port !== undefined ? { ...f, proxyPort: port } : f);
        }
      }
      const rules = renderRules(family, served, this.#nodePortCIDRs(view, family), view.nodeIPs[family][0]);
      stats.rulesPerTable.nat += rules.nat.length;
      stats.rulesPerTable.filter += rules.filter.length;
      const prev = this.#applied.get(family);
      const same = prev !== undefined && sameRules(prev, rules);
      if (changes !== undefined && same) continue;
      const missing = changes === undefined ? await this.#missingJumps(family) : [];
      const text = restoreInput(rules, missing);
      await this.#restore(family, text);
      this.#applied.set(family, rules);
      stats.bytes += Buffer.byteLength(text);
      stats.lines += text.split('\n').length - 1;
    }
    // 4. What no longer exists: listeners (after the rules stopped pointing at them), then pools and what they hold.
    for (const [key, l] of this.#listeners) {
      if (wantedListeners.has(key)) continue;
      this.#listeners.delete(key);
      await l.close();
    }
    for (const [key, pool] of this.#pools) {
      if (wantedPools.has(key)) continue;
      this.#pools.delete(key);
      pool.open.closeAll();
    }
    return { ...stats, leftOut: unservable(view) };
  }

  async #open(f: Frontend): Promise<Listener> {
    const pool = this.#pools.get(poolKey(f.servicePort, f.family, f.traffic))!;
    const logger = this.#log;
    if (f.protocol === 'UDP') return UdpListener.open({ family: f.family, pool, logger, idleMs: this.#o.udpTimeoutMs ?? 250 });
    return TcpListener.open({ family: f.family, pool, logger, highWaterMark: this.#o.bufferBytes ?? 64 * 1024, connectTimeoutMs: this.#o.connectTimeoutMs ?? 5_000 });
  }

  /** --nodeport-addresses of a family, "primary" replaced by the node's first IP of it. */
  #nodePortCIDRs(view: NodeView, family: IPFamily): string[] {
    const out: string[] = [];
    for (const a of this.#o.nodePortAddresses ?? []) {
      if (a === 'primary') for (const ip of view.nodeIPs[family].slice(0, 1)) out.push(`${ip}/${family === 'IPv6' ? 128 : 32}`);
      else if (parseCIDR(a)?.family === family) out.push(a);
    }
    return out;
  }

  async #missingJumps(family: IPFamily): Promise<JumpRule[]> {
    const bin = binaries(this.#mode, family).iptables;
    const missing: JumpRule[] = [];
    for (const j of jumpRules) {
      const r = await this.#run(bin, ['--wait=5', '-t', j.table, '-C', j.chain, ...j.args.map(unquote)]);
      if (r.exitCode !== 0) missing.push(j);
    }
    return missing;
  }

  async #restore(family: IPFamily, text: string, mode: IptablesMode = this.#mode): Promise<void> {
    const bin = binaries(mode, family).restore;
    const args = ['--noflush', `--wait=${this.#o.lockWaitSeconds ?? 5}`];
    const r = await this.#run(bin, args, { input: text });
    if (r.exitCode === 0) return;
    const m = /line:? (\d+)/i.exec(r.stderr);
    throw new RuleApplyError({ code: errUserspaceRestore, command: [bin, ...args], input: text, exitCode: r.exitCode, stderr: r.stderr, ...(m && { line: Number(m[1]) }), what: family });
  }

  /** Whether a jump or a rule of ours is gone (a flush, a firewall reload): then the next sync is full. */
  async tampered(): Promise<boolean> {
    for (const [family, rules] of this.#applied) {
      const bin = binaries(this.#mode, family).restore;
      const r = await this.#run(bin, ['--noflush', `--wait=${this.#o.lockWaitSeconds ?? 5}`], { input: checkInput(rules) });
      if (r.exitCode === 0) continue;
      this.#log.warn('rules were changed by someone else: a jump or a rule of ours is gone', { family, stderr: r.stderr.trim() });
      this.#needFull = true;
      return true;
    }
    return false;
  }

  /**
   * The drain, once the runtime has stopped syncing: stops accepting (TCP listeners closed,
   * UDP listeners take no new client), lets what is established finish for up to
   * --drain-timeout, then closes the rest. Rules stay. Later syncs are refused.
   */
  async stop(drainTimeoutMs: number = this.#o.drainTimeoutMs ?? 10_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    for (const l of listeners) if (l instanceof UdpListener) l.stopAccepting();
    await Promise.all(listeners.filter((l) => l instanceof TcpListener).map((l) => l.close()));
    const open = this.openConnections;
    if (open > 0) this.#log.info('draining established connections', { count: open, timeoutMs: drainTimeoutMs });
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all([...this.#pools.values()].map((p) => p.open.idle())).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), drainTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (!drained) this.#log.warn('drain timeout: closing the connections still open', { count: this.openConnections });
    for (const p of this.#pools.values()) p.open.closeAll();
    await Promise.all(listeners.filter((l) => l instanceof UdpListener).map((l) => l.close()));
  }

  /** Removes our jumps and chains in both families and both flavours (the listeners are the process's). */
  async cleanup(): Promise<void> {
    for (const mode of ['nft', 'legacy'] as const) {
      for (const family of allFamilies) {
        const bin = binaries(mode, family).iptables;
        for (const j of jumpRules) {
          for (let i = 0; i < 10; i++) {
            const r = await this.#run(bin, ['--wait=5', '-t', j.table, '-D', j.chain, ...j.args.map(unquote)]);
            if (r.exitCode !== 0) break;
          }
        }
        for (const table of ['nat', 'filter'] as const) {
          for (const chain of chains[table]) {
            const r = await this.#run(bin, ['--wait=5', '-t', table, '-F', chain]);
            if (r.exitCode !== 0) continue;
            await this.#run(bin, ['--wait=5', '-t', table, '-X', chain]);
            this.#log.info('removed', { mode, family, table, chain });
          }
        }
      }
    }
    this.#applied.clear();
    this.#needFull = true;
  }
}

const unquote = (word: string) => (word.startsWith('"') && word.endsWith('"') ? word.slice(1, -1) : word);

function sameRules(a: RenderedRules, b: RenderedRules): boolean {
  return a.nat.length === b.nat.length && a.filter.length === b.filter.length && a.nat.every((l, i) => l === b.nat[i]) && a.filter.every((l, i) => l === b.filter[i]);
}

/** The backend cannot start: bad options, or the node's iptables does not work. */
export class UserspaceSetupError extends Error {
  readonly code = errUserspaceSetup;
  constructor(message: string) {
    super(userspaceErrorText(errUserspaceSetup, message));
    this.name = 'UserspaceSetupError';
  }
}
