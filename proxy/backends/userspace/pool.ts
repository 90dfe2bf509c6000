// One endpoint set as the listeners of a service port's frontends share it (per family and
// traffic class): the round robin with its affinity, and what is open towards each
// endpoint. A new set takes effect for the next connection; what goes to an endpoint
// that left it is closed at once.
import { RoundRobin, targetKey, type Target } from './round-robin.ts';
import { Tracked } from './tracked.ts';

export class Pool {
  readonly name: string;
  readonly rr: RoundRobin;
  readonly open = new Tracked();

  constructor(name: string, o: { now?: () => number } = {}) {
    this.name = name;
    this.rr = new RoundRobin(o.now ? { now: o.now } : {});
  }

  /** Takes a new set; returns how many connections and sessions to endpoints that left were closed. */
  update(targets: readonly Target[], affinityTimeoutMs: number | undefined): number {
    const removed = this.rr.set(dedupe(targets), affinityTimeoutMs);
    return removed.size > 0 ? this.open.closeTo(removed) : 0;
  }
}

function dedupe(targets: readonly Target[]): Target[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const k = targetKey(t);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
