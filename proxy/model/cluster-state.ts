// The cluster as the proxy knows it: every Service, EndpointSlice and Node, validated
// and normalized on arrival, plus the raw objects (for snapshots and the API). No I/O.
import { deepEqual } from './deep-equal.ts';
import { ingestEndpointSlice, ingestNode, ingestService, type Ingested } from './ingest.ts';
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

export function mergeDelta(into: ClusterDelta, from: ClusterDelta): ClusterDelta {
  for (const s of from.services) into.services.add(s);
  for (const n of from.nodes) into.nodes.add(n);
  into.changeTriggerTimes.push(...from.changeTriggerTimes);
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
  /** The last warning per "kind key", so a recurring problem is reported once. */
  private readonly warned = new Map<string, string>();

  constructor(opts: { serviceProxyName?: string } = {}) {
    this.serviceProxyName = opts.serviceProxyName || undefined;
  }

  /** Add or replace one object. A malformed one is skipped (its last good version stays). */
  upsert(obj: unknown): ApplyResult {
    const delta = emptyDelta();
    const warnings: ObjectWarning[] = [];
    this.upsertInto(obj, delta, warnings);
    return { delta, warnings };
  }

  delete(kind: ObjectKind, key: string): ApplyResult {
    const delta = emptyDelta();
    this.deleteInto(kind, key, delta);
    return { delta, warnings: [] };
  }

  /** Make the state exactly these objects (a snapshot): missing ones are deleted. */
  replaceAll(objects: unknown[]): ApplyResult {
    const delta = emptyDelta();
    const warnings: ObjectWarning[] = [];
    const seen: Record<ObjectKind, Set<string>> = { Service: new Set(), EndpointSlice: new Set(), Node: new Set() };
    for (const obj of objects) {
      const kind = kindOf(obj);
      const key = kind && keyOf(kind, obj);
      if (kind && key) seen[kind].add(key);
      this.upsertInto(obj, delta, warnings);
    }
    for (const kind of objectKinds) {
      for (const key of [...this.raw[kind].keys()]) if (!seen[kind].has(key)) this.deleteInto(kind, key, delta);
    }
    return { delta, warnings };
  }

  /** Make one kind exactly these objects (a relist): missing ones of that kind are deleted. */
  replaceKind(kind: ObjectKind, objects: unknown[]): ApplyResult {
    const delta = emptyDelta();
    const warnings: ObjectWarning[] = [];
    const seen = new Set<string>();
    for (const obj of objects) {
      const key = keyOf(kind, obj);
      if (key) seen.add(key);
      this.upsertInto(obj, delta, warnings);
    }
    for (const key of [...this.raw[kind].keys()]) if (!seen.has(key)) this.deleteInto(kind, key, delta);
    return { delta, warnings };
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
