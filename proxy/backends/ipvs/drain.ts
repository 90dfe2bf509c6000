// Graceful removal of real servers. A real server whose endpoint left is set to weight 0
// by the sync: IPVS schedules no new connection to it, and the connections it has go on.
// The drain decision, taken after every sync and on a timer: a draining real server is
// deleted once `ipvsadm -L -n -c` (the connection list) shows no connection of its
// virtual server to it — persistence templates do not count, they expire by themselves
// (expire_quiescent_template=1) — or once it has drained for longer than the drain
// timeout (default 15 minutes, kube-proxy's old rsGracefulDeletePeriod), whichever comes
// first. A real server that comes back while draining gets its weight back (render.ts).
// UDP and SCTP real servers are never drained: they are deleted at once, and
// expire_nodest_conn=1 ends their flows at the next packet, as in kube-proxy.
import { deleteReal, splitHostPort, type Connection, type IpvsTable } from './ipvsadm.ts';
import type { Draining } from './render.ts';

export const defaultDrainTimeoutMs = 15 * 60 * 1000;

export class Drainer {
  /** "vsKey/realKey" → since when (ms). */
  readonly #since = new Map<string, { d: Draining; since: number }>();
  readonly #timeoutMs: number;

  constructor(timeoutMs = defaultDrainTimeoutMs) {
    this.#timeoutMs = timeoutMs;
  }

  get size(): number {
    return this.#since.size;
  }

  /** The real servers draining now ("vsKey/realKey"), sorted. */
  get draining(): string[] {
    return [...this.#since.keys()].sort();
  }

  /** Notes real servers the sync set to weight 0, and forgets those back in the plan. */
  note(started: readonly Draining[], ended: readonly Draining[], now: number): void {
    for (const d of ended) this.#since.delete(`${d.virtualServer}/${d.real}`);
    for (const d of started) {
      const k = `${d.virtualServer}/${d.real}`;
      if (!this.#since.has(k)) this.#since.set(k, { d, since: now });
    }
  }

  /**
   * Real servers at weight 0 found in the kernel at start (a previous process drained
   * them): drained from now on.
   */
  adopt(table: IpvsTable, now: number): void {
    for (const [k, vs] of table.services) for (const [rk, rs] of vs.reals) if (rs.weight === 0 && vs.protocol === 'TCP') this.note([{ virtualServer: k, real: rk }], [], now);
  }

  /**
   * The `ipvsadm -R` lines deleting the drained real servers of `table` (the kernel's view),
   * given its connection list; those deleted are forgotten, as are those gone already.
   */
  sweep(table: IpvsTable, connections: readonly Connection[], now: number): { text: string; deleted: string[] } {
    const busy = new Set(connections.map((c) => `${c.virtual}/${c.destination}`));
    const lines: string[] = [];
    const deleted: string[] = [];
    for (const [k, { d, since }] of [...this.#since].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const vs = table.services.get(d.virtualServer);
      const rs = vs?.reals.get(d.real);
      if (!vs || !rs || rs.weight !== 0) {
        this.#since.delete(k); // gone, or back in use
        continue;
      }
      if (busy.has(k) && now - since < this.#timeoutMs) continue;
      lines.push(deleteReal(vs, splitHostPort(d.real)));
      deleted.push(k);
      this.#since.delete(k);
    }
    return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', deleted };
  }

  clear(): void {
    this.#since.clear();
  }
}
