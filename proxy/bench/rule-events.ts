// How bench:vs-kube-proxy sees a rule arrive in nf_tables (the nftables mode, and
// iptables-nft, which is nf_tables underneath): `nft monitor new` in the proxy's
// network namespace prints every rule the kernel commits, as the commit happens, so a
// change is seen without reading the ruleset (one `nft list chain` costs over a second at
// 10,000 Services, and more in kube-proxy's table). The line parsing is pure; RuleEvents
// runs one monitor per proxy run.
import type { Node, NsProcess } from '../../harness/lab/netns/index.ts';

/**
 * A committed rule that programs a Service's new endpoint, as `nft monitor` prints it:
 * a rule of `table` (family ip) that DNATs to `dnatTo` ("10.1.2.3:8080"), or any rule of
 * the endpoint's own chain (iptables' KUBE-SEP-…, which both proxies name alike).
 */
export type EndpointRule = { table: string; dnatTo: string } | { table: string; chain: string };

/** Whether a line of `nft monitor` output is a rule added to an `ip` table that matches `want`. */
export function addsEndpointRule(line: string, want: EndpointRule): boolean {
  const prefix = `add rule ip ${want.table} `;
  if (!line.startsWith(prefix)) return false;
  const rest = line.slice(prefix.length);
  if ('chain' in want) return rest.startsWith(`${want.chain} `);
  // The rule's chain is its first word; "dnat to <ip>:<port>" ends the rule or is followed by more statements.
  return ` ${rest.slice(rest.indexOf(' ') + 1)} `.includes(` dnat to ${want.dnatTo} `);
}

/** Empty tables (family ip) named with this prefix are added to tell that the monitor listens. */
const sentinelPrefix = 'kpng-bench-sentinel-';

/** One `nft monitor new` in a node's namespace; lines stamped with performance.now() on arrival. */
export class RuleEvents {
  readonly #monitor: NsProcess;
  readonly #waiters = new Set<{ match: (line: string) => boolean; resolve: (at: number | undefined) => void }>();

  private constructor(monitor: NsProcess) {
    this.#monitor = monitor;
    monitor.onLine((line, stream) => {
      if (stream !== 'stdout') return;
      const at = performance.now();
      for (const w of this.#waiters) {
        if (!w.match(line)) continue;
        this.#waiters.delete(w);
        w.resolve(at);
      }
    });
  }

  /**
   * Starts the monitor and resolves once it prints events: nft 1.0.6 reads the whole
   * ruleset before it listens (seconds at 10,000 Services), so an empty sentinel table is
   * added until the monitor reports one. Adding a table makes nft read only the tables;
   * adding a rule, or deleting anything, would make it read every chain and set of the
   * namespace first (kube-proxy's 110,000 chains at 10,000 Services). The sentinels stay:
   * the namespace is the run's own.
   */
  static async start(node: Node, timeoutMs: number): Promise<RuleEvents> {
    const events = new RuleEvents(node.spawn('nft', ['monitor', 'new']));
    const deadline = Date.now() + timeoutMs;
    // Every commit makes the monitor's reading of the ruleset start again (the generation
    // changed), so the sentinels come further and further apart: 1, 2, 4 … 32 s.
    for (let n = 0; ; n++) {
      if (!events.#monitor.running) throw new Error(`nft monitor exited: ${events.#monitor.output.trim()}`);
      const seen = events.next((line) => line.startsWith(`add table ip ${sentinelPrefix}`), Math.min(2 ** n, 32) * 1000);
      const r = await node.run('nft', ['add', 'table', 'ip', `${sentinelPrefix}${n}`], { timeoutMs: Math.max(30_000, deadline - Date.now()) });
      if (r.exitCode !== 0) throw new Error(`nft could not add the sentinel table: ${r.stderr.trim()}`);
      if ((await seen) !== undefined) return events;
      if (Date.now() > deadline) {
        await events.stop();
        throw new Error(`nft monitor printed no event within ${timeoutMs / 1000} s`);
      }
    }
  }

  /** Resolves with the arrival time of the next line that matches (register before causing it), or undefined after timeoutMs. */
  next(match: (line: string) => boolean, timeoutMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const waiter = {
        match,
        resolve: (at: number | undefined) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(undefined);
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  get running(): boolean {
    return this.#monitor.running;
  }

  async stop(): Promise<void> {
    for (const w of this.#waiters) w.resolve(undefined);
    this.#waiters.clear();
    await this.#monitor.stop({ graceMs: 1_000 });
  }
}
