// What changed between two local states: the service ports a backend must rewrite in a
// partial sync. Unchanged entries are usually shared by reference, so this is cheap.
import type { LocalNode, LocalState, ServicePortState } from './types.ts';

export interface LocalChanges {
  /** Keys of service ports added, removed or modified. */
  servicePorts: Set<string>;
  /** The node's own record (zone, addresses, deletion) changed. */
  node: boolean;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

export function servicePortEqual(a: ServicePortState, b: ServicePortState): boolean {
  return deepEqual(a, b);
}

function nodeEqual(a: LocalNode, b: LocalNode): boolean {
  return deepEqual(a, b);
}

/** The change set from prev to next. With no prev, everything in next is new. */
export function localChanges(prev: LocalState | undefined, next: LocalState): LocalChanges {
  const servicePorts = new Set<string>();
  if (!prev) {
    for (const key of next.servicePorts.keys()) servicePorts.add(key);
    return { servicePorts, node: true };
  }
  if (prev.servicePorts !== next.servicePorts) {
    for (const [key, sp] of next.servicePorts) {
      const old = prev.servicePorts.get(key);
      if (old !== sp && (!old || !servicePortEqual(old, sp))) servicePorts.add(key);
    }
    for (const key of prev.servicePorts.keys()) if (!next.servicePorts.has(key)) servicePorts.add(key);
  }
  return { servicePorts, node: prev.node !== next.node && !nodeEqual(prev.node, next.node) };
}
