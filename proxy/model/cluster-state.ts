// The cluster as the proxy knows it: every Service, EndpointSlice and Node, validated
// and normalized on arrival, plus the raw objects (for snapshots and the API). No I/O.
import { deepEqual } from './deep-equal.ts';
import { FrontendClaims, creationTime, serviceFrontends, type Seniority } from './frontends.ts';
import { ingestEndpointSlice, ingestNode, ingestService, type Ingested } from './ingest.ts';
import { serviceCounts } from './local-state.ts';
import type { NodeInfo, ObjectWarning, ServiceInfo, SliceInfo } from './types.ts';

export type ObjectKind = 'Service' | 'EndpointSlice' | 'Node';
export const objectKinds: readonly ObjectKind[] = ['Service', 'EndpointSlice', 'Node'];

/** Which services and nodes an update touched: what node-local views must recompute. */
export interface ClusterDelta {
  services: Set<string>;
  nodes: Set<string>;
  /**
   * The last-change-trigger-time of each EndpointSlice this delta brought a new one of
   * (ms since the epoch): when the changes it carries began, for the network programming
   * latency metric.
   */
  changeTriggerTimes: number[];
}

export function emptyDelta(): ClusterDelta {
  return { services: new Set(), nodes: new Set(), changeTriggerTimes: [] };
}

/**
 * The most change trigger times carried at once: a long run of failed syncs, or a first
 * list of every slice, keeps merging them; the oldest are kept (they bound the latency).
 */
export const changeTriggerTimesMax = 10_000;

/** Appends `from` to `into` (in place, no spread: a first list may carry 100,000), up to changeTriggerTimesMax. */
export function appendTriggerTimes(into: number[], from: readonly number[]): number[] {
  for (const t of from) {
    if (into.length >= changeTriggerTimesMax) break;
    into.push(t);
  }
  return into;
}

export function mergeDelta(into: ClusterDelta, from: ClusterDelta): ClusterDelta {
  for (const s of from.services) into.services.add(s);
  for (const n of from.nodes) into.nodes.add(n);
  appendTriggerTimes(into.changeTriggerTimes, from.changeTriggerTimes);
  return into;
}

export function isEmptyDelta(d: ClusterDelta): boolean {
  return d.services.size === 0 && d.nodes.size === 0;
}

export interface ApplyResult {
  delta: ClusterDelta;
  /** New problems only: an object that stays malformed in the same way warns once. */
  warnings: ObjectWarning[];
}

/** The kind of a raw object from its `kind` field; undefined when it is none of ours. */
export function kindOf(obj: unknown): ObjectKind | undefined {
  const kind = (obj as { kind?: unknown } | null)?.kind;
  return objectKinds.includes(kind as ObjectKind) ? (kind as ObjectKind) : undefined;
}

/** The store key of a raw object: "namespace/name" (Node: name), or undefined. */
export function keyOf(kind: ObjectKind, obj: unknown): string | undefined {
  const m = (obj as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  if (!m || typeof m.name !== 'string' || m.name === '') return undefined;
  if (kind === 'Node') return m.name;
  return `${typeof m.namespace === 'string' && m.namespace ? m.namespace : 'default'}/${m.name}`;
}

export class ClusterState {
  /**
   * The --service-proxy-name the source was started with: only Services labelled with it
   * count (unset: only unlabelled ones). Node-local computations take it from here.
   */
  readonly serviceProxyName: string | undefined;
  readonly services = new Map<string, ServiceInfo>();
  readonly slices = new Map<string, SliceInfo>();
  /** serviceKey → sliceKey → slice. */
  readonly slicesByService = new Map<string, Map<string, SliceInfo>>();
  readonly nodes = new Map<string, NodeInfo>();
  /** The last good raw object of each kind by key. */
  readonly raw: Record<ObjectKind, Map<string, unknown>> = { Service: new Map(), EndpointSlice: new Map(), Node: new Map() };
  /** Which Service owns each frontend (IP:port/protocol, NodePort/protocol) that more than one claims. */
  readonly frontends = new FrontendClaims();
  /** The last warning per "kind key", so a recurring problem is reported once. */
  private readonly warned = new Map<string, string>();
  /** The last conflict warning per frontend id, and per duplicated "kind key". */
  private readonly conflictWarned = new Map<string, string>();
  private readonly duplicateWarned = new Map<string, string>();
  /** Frontend ids whose claimants changed during the current operation. */
  private readonly touchedFrontends = new Set<string>();

  constructor(opts: { serviceProxyName?: string } = {}) {
    this.serviceProxyName = opts.serviceProxyName || undefined;
  }

  /** Add or replace one object. A malformed one is skipped (its last good version stays). */
  upsert(obj: unknown): ApplyResult {
    const delta = emptyDelta();
    const warnings: ObjectWarning[] = [];
    this.upsertInto(obj, delta, warnings);
    this.settleFrontends(delta, warnings);
    return { delta, warnings };
  }

  delete(kind: ObjectKind, key: string): ApplyResult {
    const delta = emptyDelta();
    const warnings: ObjectWarning[] = [];
    this.deleteInto(kind, key, delta);
    this.settleFrontends(delta, warnings);
    return { delta, warnings };
  }

  /** Make the state exactly these objects (a snapshot): missing ones are deleted. */
  replaceAll(objects: unknown[]): ApplyResult {
    const delta = emptyDelta();
    const warnings: ObjectWarning[] = [];
    const seen: Record<ObjectKind, Set<string>> = { Service: new Set(), EndpointSlice: new Set(), Node: new Set() };
    const duplicates = new Duplicates();
    objects.forEach((obj, i) => {
      const kind = kindOf(obj);
      const key = kind && keyOf(kind, obj);
      if (kind && key) {
        seen[kind].add(key);
        if (duplicates.repeated(kind, key, i)) return;
      }
      this.upsertInto(obj, delta, warnings);
    });
    for (const kind of objectKinds) {
      for (const key of [...this.raw[kind].keys()]) if (!seen[kind].has(key)) this.deleteInto(kind, key, delta);
    }
    this.reportDuplicates(duplicates, objectKinds, warnings);
    this.settleFrontends(delta, warnings);
    return { delta, warnings };
  }

  /** Make one kind exactly these objects (a relist): missing ones of that kind are deleted. */
  replaceKind(kind: ObjectKind, objects: unknown[]): ApplyResult {
    const delta = emptyDelta();
    const warnings: ObjectWarning[] = [];
    const seen = new Set<string>();
    const duplicates = new Duplicates();
    objects.forEach((obj, i) => {
      const key = keyOf(kind, obj);
      if (key) {
        seen.add(key);
        if (duplicates.repeated(kind, key, i)) return;
      }
      this.upsertInto(obj, delta, warnings);
    });
    for (const key of [...this.raw[kind].keys()]) if (!seen.has(key)) this.deleteInto(kind, key, delta);
    this.reportDuplicates(duplicates, [kind], warnings);
    this.settleFrontends(delta, warnings);
    return { delta, warnings };
  }

  /**
   * One object twice in one list (same kind, namespace and name): the first is used, the
   * later ones are skipped, with a warning naming both positions (once while it lasts).
   */
  private reportDuplicates(duplicates: Duplicates, kinds: readonly ObjectKind[], warnings: ObjectWarning[]): void {
    const now = duplicates.warnings();
    for (const id of [...this.duplicateWarned.keys()]) {
      if (kinds.some((k) => id.startsWith(`${k} `)) && !now.has(id)) this.duplicateWarned.delete(id);
    }
    for (const [id, w] of now) {
      if (this.duplicateWarned.get(id) === w.message) continue;
      this.duplicateWarned.set(id, w.message);
      warnings.push(w);
    }
  }

  /**
   * After an operation: every Service claiming a frontend whose claimants changed is
   * recomputed (its owner may have changed), and each conflict is warned about once,
   * naming the Service that keeps the frontend and the one that leaves it out.
   */
  private settleFrontends(delta: ClusterDelta, warnings: ObjectWarning[]): void {
    for (const id of this.touchedFrontends) {
      const claimants = this.frontends.claimants(id);
      for (const c of claimants) delta.services.add(c.key);
      const owner = claimants[0];
      const found: ObjectWarning[] = owner ? claimants.slice(1).map((c) => conflictWarning(id, owner, c)) : [];
      const text = found.map((w) => `${w.object} ${w.message}`).join('\n');
      if (text === '') {
        this.conflictWarned.delete(id);
        continue;
      }
      if (this.conflictWarned.get(id) === text) continue;
      this.conflictWarned.set(id, text);
      warnings.push(...found);
    }
    this.touchedFrontends.clear();
  }

  private warn(kind: string, key: string, w: ObjectWarning, warnings: ObjectWarning[]): void {
    const id = `${kind} ${key}`;
    const text = `${w.field}: ${w.message}`;
    if (this.warned.get(id) === text) return;
    this.warned.set(id, text);
    warnings.push(w);
  }

  private upsertInto(obj: unknown, delta: ClusterDelta, warnings: ObjectWarning[]): void {
    const kind = kindOf(obj);
    if (!kind) {
      const k = (obj as { kind?: unknown } | null)?.kind;
      warnings.push({
        kind: 'object',
        object: keyOf('Service', obj) ?? '',
        field: 'kind',
        message: `${JSON.stringify(k)} is not a kind the proxy reads (accepted: ${objectKinds.join(', ')})`,
      });
      return;
    }
    const key = keyOf(kind, obj) ?? '';
    // Relists and snapshot re-reads repeat objects: an identical one changes nothing.
    const known = this.raw[kind].get(key);
    if (known !== undefined && (known === obj || deepEqual(known, obj))) return;
    const result: Ingested<unknown> =
      kind === 'Service' ? ingestService(obj) : kind === 'EndpointSlice' ? ingestEndpointSlice(obj) : ingestNode(obj);
    if (!result.ok) {
      this.warn(kind, key, result.warning, warnings);
      return;
    }
    this.warned.delete(`${kind} ${key}`);
    this.raw[kind].set(key, obj);
    if (kind === 'Service') {
      const svc = result.value as ServiceInfo;
      this.services.set(svc.key, svc);
      delta.services.add(svc.key);
      const claims = serviceCounts(svc, this.serviceProxyName ? { serviceProxyName: this.serviceProxyName } : {}) ? serviceFrontends(svc) : [];
      for (const id of this.frontends.set({ createdAt: creationTime(obj), key: svc.key }, claims)) this.touchedFrontends.add(id);
    } else if (kind === 'Node') {
      const node = result.value as NodeInfo;
      this.nodes.set(node.name, node);
      delta.nodes.add(node.name);
    } else {
      const before = this.slices.get(key)?.changeTriggerTime;
      this.removeSlice(key, delta);
      const slice = result.value as SliceInfo | undefined;
      if (slice?.changeTriggerTime !== undefined && slice.changeTriggerTime !== before) delta.changeTriggerTimes.push(slice.changeTriggerTime);
      if (!slice) return; // not a Service's slice, or FQDN
      this.slices.set(slice.key, slice);
      let byName = this.slicesByService.get(slice.serviceKey);
      if (!byName) this.slicesByService.set(slice.serviceKey, (byName = new Map()));
      byName.set(slice.key, slice);
      delta.services.add(slice.serviceKey);
    }
  }

  private removeSlice(key: string, delta: ClusterDelta): void {
    const old = this.slices.get(key);
    if (!old) return;
    this.slices.delete(key);
    const byName = this.slicesByService.get(old.serviceKey);
    byName?.delete(key);
    if (byName?.size === 0) this.slicesByService.delete(old.serviceKey);
    delta.services.add(old.serviceKey);
  }

  private deleteInto(kind: ObjectKind, key: string, delta: ClusterDelta): void {
    this.raw[kind].delete(key);
    this.warned.delete(`${kind} ${key}`);
    if (kind === 'Service') {
      if (this.services.delete(key)) delta.services.add(key);
      for (const id of this.frontends.delete(key)) this.touchedFrontends.add(id);
    } else if (kind === 'Node') {
      if (this.nodes.delete(key)) delta.nodes.add(key);
    } else {
      this.removeSlice(key, delta);
    }
  }

  /** Every raw object, sorted by kind then key: a stable snapshot. */
  objects(): unknown[] {
    return objectKinds.flatMap((kind) => [...this.raw[kind].entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o));
  }
}

/** Where each object of one list appeared, to find those that appear more than once. */
class Duplicates {
  private readonly positions = new Map<string, { kind: ObjectKind; key: string; at: number[] }>();

  /** Whether this object (at index i of the list) repeats an earlier one. */
  repeated(kind: ObjectKind, key: string, i: number): boolean {
    const id = `${kind} ${key}`;
    const entry = this.positions.get(id);
    if (entry) entry.at.push(i + 1);
    else this.positions.set(id, { kind, key, at: [i + 1] });
    return entry !== undefined;
  }

  /** One warning per repeated object, by "kind key". */
  warnings(): Map<string, ObjectWarning> {
    const out = new Map<string, ObjectWarning>();
    for (const [id, { kind, key, at }] of this.positions) {
      if (at.length < 2) continue;
      out.set(id, {
        kind,
        object: key,
        field: 'metadata.name',
        message: `the same ${kind} appears ${at.length} times in one list (objects ${at.map((n) => `#${n}`).join(', ')}); the first (#${at[0]}) is used, the others are skipped`,
      });
    }
    return out;
  }
}

function conflictWarning(id: string, owner: Seniority & { frontend: { kind: string } }, loser: Seniority & { frontend: { kind: string; field: string } }): ObjectWarning {
  const why =
    owner.createdAt !== undefined && owner.createdAt !== loser.createdAt
      ? `created earlier (${new Date(owner.createdAt).toISOString()})`
      : loser.createdAt === undefined && owner.createdAt === undefined
        ? 'first by namespace/name (neither has a creationTimestamp)'
        : 'first by namespace/name (created at the same time)';
  return {
    kind: 'Service',
    object: loser.key,
    field: loser.frontend.field,
    message: `${id} (its ${loser.frontend.kind}) is also claimed by Service ${owner.key} (its ${owner.frontend.kind}), which keeps it: ${why}; left out of ${loser.key}`,
  };
}

