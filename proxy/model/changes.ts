// What changed between two local states: the service ports a backend must rewrite in a
// partial sync. Unchanged entries are usually shared by reference, so this is cheap.
import { deepEqual } from './deep-equal.ts';
import { touchedSince } from './local-state.ts';
import type { LocalNode, LocalState, ServicePortState } from './types.ts';

export interface LocalChanges {
  /** Keys of service ports added, removed or modified. */
  servicePorts: Set<string>;
  /** The node's own record (zone, addresses, deletion) changed. */
  node: boolean;
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
  const touched = touchedSince(prev, next);
  if (touched) {
    // next came from prev by an incremental update: only these keys can differ.
    for (const key of touched) {
      const old = prev.servicePorts.get(key);
      const sp = next.servicePorts.get(key);
      if (old !== sp && (!old || !sp || !servicePortEqual(old, sp))) servicePorts.add(key);
    }
  } else if (prev.servicePorts !== next.servicePorts) {
    for (const [key, sp] of next.servicePorts) {
      const old = prev.servicePorts.get(key);
      if (old !== sp && (!old || !servicePortEqual(old, sp))) servicePorts.add(key);
    }
    for (const key of prev.servicePorts.keys()) if (!next.servicePorts.has(key)) servicePorts.add(key);
  }
  return { servicePorts, node: prev.node !== next.node && !nodeEqual(prev.node, next.node) };
}
