// Which endpoint a new connection (or UDP session) goes to: round robin over the set the
// model chose, and with ClientIP session affinity the endpoint a client used last, for as
// long as it came back within the timeout (kube-proxy's userspace LoadBalancerRR). Pure:
// the clock is injected.

export interface Target {
  address: string;
  port: number;
}

/** One endpoint's identity in every table of this folder. */
export const targetKey = (t: Target): string => `${t.address}#${t.port}`;

export interface RoundRobinOptions {
  /** ClientIP affinity's timeoutSeconds in ms; undefined: no affinity. */
  affinityTimeoutMs?: number | undefined;
  now?: () => number;
}

interface Stickiness {
  key: string;
  lastUsed: number;
}

export class RoundRobin {
  #targets: Target[] = [];
  #next = 0;
  readonly #affinity = new Map<string, Stickiness>();
  #affinityTimeoutMs: number | undefined;
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(o: RoundRobinOptions = {}) {
    this.#affinityTimeoutMs = o.affinityTimeoutMs;
    this.#now = o.now ?? Date.now;
  }

  get targets(): readonly Target[] {
    return this.#targets;
  }

  /** Clients held by affinity now. */
  get affinityEntries(): number {
    return this.#affinity.size;
  }

  /**
   * Replaces the endpoint set (and the affinity timeout, which may have changed). Returns the
   * keys of endpoints that left it; clients stuck to them are let go.
   */
  set(targets: readonly Target[], affinityTimeoutMs?: number): Set<string> {
    const keep = new Set(targets.map(targetKey));
    const removed = new Set(this.#targets.map(targetKey).filter((k) => !keep.has(k)));
    this.#targets = [...targets];
    if (this.#next >= this.#targets.length) this.#next = 0;
    if (affinityTimeoutMs === undefined) this.#affinity.clear();
    this.#affinityTimeoutMs = affinityTimeoutMs;
    for (const [client, s] of this.#affinity) if (!keep.has(s.key)) this.#affinity.delete(client);
    return removed;
  }

  /** The endpoint for a new connection from `clientIP`, skipping those in `tried` (connects that failed); undefined when none is left. */
  pick(clientIP: string, tried: ReadonlySet<string> = new Set()): Target | undefined {
    const now = this.#now();
    const timeout = this.#affinityTimeoutMs;
    if (timeout !== undefined) {
      this.#sweep(now, timeout);
      const s = this.#affinity.get(clientIP);
      if (s && now - s.lastUsed <= timeout && !tried.has(s.key)) {
        const t = this.#targets.find((x) => targetKey(x) === s.key);
        if (t) {
          s.lastUsed = now;
          return t;
        }
      }
    }
    const n = this.#targets.length;
    for (let i = 0; i < n; i++) {
      const t = this.#targets[(this.#next + i) % n]!;
      if (tried.has(targetKey(t))) continue;
      this.#next = (this.#next + i + 1) % n;
      if (timeout !== undefined) this.#affinity.set(clientIP, { key: targetKey(t), lastUsed: now });
      return t;
    }
    return undefined;
  }

  /** Drops expired affinity entries, at most once per timeout. */
  #sweep(now: number, timeout: number): void {
    if (now - this.#lastSweep < timeout) return;
    this.#lastSweep = now;
    for (const [client, s] of this.#affinity) if (now - s.lastUsed > timeout) this.#affinity.delete(client);
  }
}
