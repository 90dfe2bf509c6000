// What the socket-LB maps must hold for the node's view, and the map operations that
// take them there: per service port and family its frontends (service address -> endpoint
// set) and its endpoint sets' slots. A partial sync plans only the changed service ports,
// so a change among 10,000 Services costs O(its entries).
import type { IPFamily, LocalEndpoint, NodeView, ViewChanges } from '../../model/index.ts';
import { endpointKey, endpointValue, hex, serviceKey, serviceValue, type MapName, type MapOp } from './maps.ts';
import { assignSlots } from './slots.ts';

/** "map\tkey hex" -> value hex. */
export type Entries = Map<string, string>;

interface PortRecord {
  entries: Entries;
  /** "family/group" -> endpoint set id and slot order. */
  groups: Map<string, { id: number; slots: string[] }>;
}

export interface PlanResult {
  ops: MapOp[];
  /** Adopt the plan as what the maps now hold (after it was applied). */
  commit(): void;
}

const entryKey = (map: MapName, key: string) => `${map}\t${key}`;
const epId = (e: LocalEndpoint) => `${e.address}#${e.port}`;

export class MapPlanner {
  private records = new Map<string, PortRecord>();
  private nextId = 1;
  private freeIds: number[] = [];
  private readonly entryCounts: Record<MapName, number> = { kpng_svc4: 0, kpng_svc6: 0, kpng_be: 0 };
  private readonly families: readonly IPFamily[];
  /** Where NodePorts answer (--nodeport-addresses); undefined: the node's IPs. */
  private nodePortIPs: Partial<Record<IPFamily, string[]>> | undefined;

  constructor(families: readonly IPFamily[]) {
    this.families = families;
  }

  /** Forget everything (the maps were created anew, empty). */
  reset(): void {
    this.records.clear();
    this.nextId = 1;
    this.freeIds = [];
    for (const m of Object.keys(this.entryCounts) as MapName[]) this.entryCounts[m] = 0;
  }

  /** The addresses NodePorts answer on from now on (a full plan follows a change of them). */
  setNodePortIPs(ips: Partial<Record<IPFamily, string[]>> | undefined): void {
    this.nodePortIPs = ips;
  }

  /** Entries per map, as last committed. */
  counts(): Record<string, number> {
    return { ...this.entryCounts };
  }

  private count(entries: Entries | undefined, sign: number): void {
    for (const ek of entries?.keys() ?? []) this.entryCounts[ek.slice(0, ek.indexOf('\t')) as MapName] += sign;
  }

  /** Entries the maps hold for every service port, as last committed. */
  image(): Entries {
    const all: Entries = new Map();
    for (const r of this.records.values()) for (const [k, v] of r.entries) all.set(k, v);
    return all;
  }

  /**
   * The operations for the service ports `changes` names in this planner's families (all
   * of them when undefined). With `actual` (the maps as dumped), a full plan also deletes
   * entries nobody planned.
   */
  plan(view: NodeView, changes: ViewChanges | undefined, actual?: Entries): PlanResult {
    const todo = changes ? changedKeys(changes, this.families) : new Set([...this.families.flatMap((f) => [...view.families[f].servicePorts.keys()]), ...this.records.keys()]);
    const nodeIPs = Object.fromEntries(this.families.map((f) => [f, this.nodePortIPs?.[f] ?? view.nodeIPs[f]])) as Record<IPFamily, readonly string[]>;
    const before: Entries = actual ?? new Map();
    if (!actual) for (const k of todo) for (const [ek, v] of this.records.get(k)?.entries ?? []) before.set(ek, v);
    const after: Entries = new Map();
    const next = new Map<string, PortRecord | undefined>();
    for (const k of todo) {
      const rec = this.portRecord(view, k, nodeIPs, this.records.get(k));
      next.set(k, rec);
      for (const [ek, v] of rec?.entries ?? []) if (!after.has(ek)) after.set(ek, v);
    }
    const ops = diff(before, after);
    return {
      ops,
      commit: () => {
        for (const [k, rec] of next) {
          const old = this.records.get(k);
          const keep = new Set([...(rec?.groups.values() ?? [])].map((g) => g.id));
          for (const g of old?.groups.values() ?? []) if (!keep.has(g.id)) this.freeIds.push(g.id);
          this.count(old?.entries, -1);
          this.count(rec?.entries, 1);
          if (rec) this.records.set(k, rec);
          else this.records.delete(k);
        }
      },
    };
  }

  /** An unused endpoint set id (ids freed by a plan return to the pool only when it is committed). */
  private allocate(): number {
    return this.freeIds.pop() ?? this.nextId++;
  }

  /** The entries of service port `key` in every family of the planner; undefined when no family has it. */
  private portRecord(node: NodeView, key: string, nodeIPs: Record<IPFamily, readonly string[]>, old: PortRecord | undefined): PortRecord | undefined {
    const rec: PortRecord = { entries: new Map(), groups: new Map() };
    let found = false;
    for (const family of this.families) {
      const view = node.families[family].servicePorts.get(key);
      if (!view) continue;
      found = true;
      const sp = view.sp;
      const timeout = sp.affinityTimeoutSeconds ?? 0;
      const svcMap: MapName = family === 'IPv4' ? 'kpng_svc4' : 'kpng_svc6';
      const group = (name: string, eps: readonly LocalEndpoint[]): string => {
        const gk = `${family}/${name}`;
        const prev = old?.groups.get(gk);
        const byId = new Map(eps.map((e) => [epId(e), e]));
        const slots = assignSlots(prev?.slots ?? [], [...byId.keys()]);
        const id = prev?.id ?? this.allocate();
        rec.groups.set(gk, { id, slots });
        slots.forEach((s, i) => {
          const e = byId.get(s)!;
          rec.entries.set(entryKey('kpng_be', hex(endpointKey(id, i))), hex(endpointValue(e.address, family, e.port)));
        });
        return hex(serviceValue(id, view.hasEndpoints ? slots.length : 0, timeout));
      };
      const front = (ip: string, port: number, value: string) => {
        const k = entryKey(svcMap, hex(serviceKey(ip, family, port, sp.protocol)));
        if (!rec.entries.has(k)) rec.entries.set(k, value);
      };
      const internal = group('int', view.internalTrafficEndpoints);
      front(view.clusterIP, sp.port, internal);
      if (!view.externallyAccessible) continue;
      // The node's own processes and pods reach external frontends through the cluster-wide
      // endpoints, whatever externalTrafficPolicy says (kube-proxy's short circuit).
      const external = sp.internalPolicyLocal ? group('ext', view.clusterEndpoints) : internal;
      for (const ip of view.externalIPs) front(ip, sp.port, external);
      // Source ranges cannot be checked before a socket has its source address: such LB IPs
      // are left to the packet path (the output hook of the nft table, see external.ts).
      if (view.sourceRanges.length === 0) for (const ip of view.lbIPs) front(ip, sp.port, external);
      if (sp.nodePort !== 0) for (const ip of nodeIPs[family]) front(ip, sp.nodePort, external);
    }
    return found ? rec : undefined;
  }
}

/** The service ports that changed in any of `families`. */
export function changedKeys(changes: ViewChanges, families: readonly IPFamily[]): Set<string> {
  const keys = new Set<string>();
  for (const f of families) for (const k of changes.families[f].ports.keys()) keys.add(k);
  return keys;
}

const rank = (o: MapOp) => (o.op === 'update' ? (o.map === 'kpng_be' ? 0 : 1) : o.map === 'kpng_be' ? 3 : 2);

/**
 * before -> after as map operations, ordered so a program never reads a slot that is not
 * there: endpoint slots written, then frontends; frontends deleted, then slots.
 */
export function diff(before: Entries, after: Entries): MapOp[] {
  const ops: MapOp[] = [];
  for (const [ek, value] of after) {
    if (before.get(ek) === value) continue;
    const [map, key] = ek.split('\t') as [MapName, string];
    ops.push({ op: 'update', map, key, value });
  }
  for (const ek of before.keys()) {
    if (after.has(ek)) continue;
    const [map, key] = ek.split('\t') as [MapName, string];
    ops.push({ op: 'delete', map, key });
  }
  return ops.sort((a, b) => rank(a) - rank(b));
}
