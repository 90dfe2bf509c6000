// A family's plan kept per service port, for partial syncs: replacing the plans of the
// service ports a change set names says which virtual servers, set members and kube-ipvs0
// addresses now differ, without planning or comparing the rest. It holds what sumPlans
// computes: a virtual server two service ports ask for goes to the first by key, a set
// member or address stays while some port asks for it. Pure.
import type { IPFamily } from '../../model/index.ts';
import { vsKey, type VirtualServer } from './ipvsadm.ts';
import { ipvsSet, setDefs, setName } from './names.ts';
import type { NoNodeAccess, PortPlan } from './plan.ts';

/** What replacing port plans touched; each entry as it was before the first replacement. */
export interface Touched {
  /** Virtual servers (by vsKey) some replaced plan asked or asks for. */
  virtualServers: Set<string>;
  /** Per set name, member → whether the set held it before. */
  members: Map<string, Map<string, boolean>>;
  /** Address → whether kube-ipvs0 held it before. */
  addresses: Map<string, boolean>;
}

export function noneTouched(): Touched {
  return { virtualServers: new Set(), members: new Map(), addresses: new Map() };
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class PlanIndex {
  readonly family: IPFamily;
  readonly #ports = new Map<string, PortPlan>();
  /** vsKey → the keys of the ports asking for it, sorted (the first owns it). */
  readonly #wanters = new Map<string, string[]>();
  /** Set name → member → how many port plans hold it. */
  readonly #members = new Map<string, Map<string, number>>();
  /** Address → how many port plans bind it. */
  readonly #bound = new Map<string, number>();
  /** Ports with a load balancer IP the node may not reach. */
  readonly #noNodeAccess = new Set<string>();
  readonly #ipvsSet: string;

  constructor(family: IPFamily, ports: Iterable<PortPlan> = []) {
    this.family = family;
    this.#ipvsSet = setName(ipvsSet, family);
    for (const d of setDefs) this.#members.set(setName(d, family), new Map());
    const touched = noneTouched();
    for (const p of ports) this.set(p.key, p, touched);
  }

  get size(): number {
    return this.#ports.size;
  }

  /** Replaces the plan of a service port (undefined: it is gone), noting in `touched` what it touched. */
  set(key: string, plan: PortPlan | undefined, touched: Touched): void {
    const old = this.#ports.get(key);
    if (old) this.#count(old, -1, touched);
    if (plan) {
      this.#ports.set(key, plan);
      this.#count(plan, 1, touched);
    } else this.#ports.delete(key);
    if (plan && plan.noNodeAccess.length > 0) this.#noNodeAccess.add(key);
    else this.#noNodeAccess.delete(key);
  }

  #count(p: PortPlan, d: 1 | -1, touched: Touched): void {
    for (const vs of p.virtualServers) {
      const k = vsKey(vs.protocol, vs.address, vs.port);
      touched.virtualServers.add(k);
      const list = this.#wanters.get(k) ?? [];
      if (d === 1) {
        // A plan may ask twice for one virtual server: counted once, as sumPlans keeps the first.
        if (!list.includes(p.key)) {
          list.push(p.key);
          list.sort(byKey);
        }
        this.#wanters.set(k, list);
      } else {
        const rest = list.filter((x) => x !== p.key);
        if (rest.length > 0) this.#wanters.set(k, rest);
        else this.#wanters.delete(k);
      }
    }
    for (const [s, m] of p.members) this.#countMember(s, m, d, touched);
    for (const a of p.bind) {
      this.#countMember(this.#ipvsSet, a, d, touched);
      const before = this.#bound.get(a) ?? 0;
      if (!touched.addresses.has(a)) touched.addresses.set(a, before > 0);
      if (before + d > 0) this.#bound.set(a, before + d);
      else this.#bound.delete(a);
    }
  }

  #countMember(s: string, m: string, d: 1 | -1, touched: Touched): void {
    const counts = this.#members.get(s)!;
    const before = counts.get(m) ?? 0;
    let seen = touched.members.get(s);
    if (!seen) touched.members.set(s, (seen = new Map()));
    if (!seen.has(m)) seen.set(m, before > 0);
    if (before + d > 0) counts.set(m, before + d);
    else counts.delete(m);
  }

  /** The virtual server the plan holds under a vsKey: the first asking port's. */
  virtualServer(k: string): VirtualServer | undefined {
    const owner = this.#wanters.get(k)?.[0];
    if (owner === undefined) return undefined;
    return this.#ports.get(owner)!.virtualServers.find((vs) => vsKey(vs.protocol, vs.address, vs.port) === k);
  }

  has(set: string, member: string): boolean {
    return (this.#members.get(set)?.get(member) ?? 0) > 0;
  }

  /** How many members a set holds. */
  members(set: string): number {
    return this.#members.get(set)?.size ?? 0;
  }

  isBound(address: string): boolean {
    return this.#bound.has(address);
  }

  /** The load balancer IPs the node may not reach, in key order (as sumPlans lists them). */
  noNodeAccess(): NoNodeAccess[] {
    return [...this.#noNodeAccess].sort(byKey).flatMap((k) => this.#ports.get(k)!.noNodeAccess);
  }
}
