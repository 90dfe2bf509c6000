// The `ipset restore` side: set definitions as create lines, members as add/del lines, and
// the text of `ipset save` read back into sets. Members are built from addresses, ports and
// CIDRs the model validated; no user-writable string enters an ipset line, so there is no
// ipset comment (and nothing to escape).
import type { IPFamily } from '../../model/index.ts';
import { setDefs, setName, type SetDef } from './names.ts';

/** Members per set name. */
export type SetMembers = Map<string, Set<string>>;

/** The create line of a set, `-exist` so that it is idempotent. */
export function createLine(d: SetDef, family: IPFamily): string {
  const name = setName(d, family);
  if (d.type === 'bitmap:port') return `create ${name} bitmap:port range 0-65535 -exist`;
  return `create ${name} ${d.type} family ${family === 'IPv6' ? 'inet6' : 'inet'} hashsize 1024 maxelem 65536 -exist`;
}

/** A set's name → its definition, for one family. */
export function setsOf(family: IPFamily): Map<string, SetDef> {
  return new Map(setDefs.map((d) => [setName(d, family), d]));
}

/** An empty member map holding every set of the family. */
export function emptySets(family: IPFamily): SetMembers {
  return new Map(setDefs.map((d) => [setName(d, family), new Set<string>()]));
}

/** "ip,proto:port" (hash:ip,port). */
export const ipPort = (ip: string, protocol: string, port: number) => `${ip},${protocol.toLowerCase()}:${port}`;

export interface SetDelta {
  add: Array<[string, string]>;
  del: Array<[string, string]>;
}

/** What turns `from` into `to` (sets missing from `from` count as empty). */
export function diffSets(from: SetMembers, to: SetMembers): SetDelta {
  const add: Array<[string, string]> = [];
  const del: Array<[string, string]> = [];
  for (const [name, want] of to) {
    const have = from.get(name) ?? new Set<string>();
    for (const m of [...want].sort()) if (!have.has(m)) add.push([name, m]);
    for (const m of [...have].sort()) if (!want.has(m)) del.push([name, m]);
  }
  return { add, del };
}

/**
 * `ipset restore` input: the create lines (when `create`), then deletions, then additions.
 * Deleting first keeps a member that moves between sets from being in both at once.
 */
export function renderIpsetRestore(family: IPFamily, delta: SetDelta, create: boolean): string {
  const lines: string[] = [];
  if (create) for (const d of setDefs) lines.push(createLine(d, family));
  for (const [s, m] of delta.del) lines.push(`del ${s} ${m} -exist`);
  for (const [s, m] of delta.add) lines.push(`add ${s} ${m} -exist`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

export interface SavedSet {
  name: string;
  type: string;
  /** "inet", "inet6", or undefined (bitmap:port). */
  family?: string;
  members: Set<string>;
}

/** `ipset save` (or restore input of create/add lines) → sets by name. */
export function parseIpsetSave(text: string): Map<string, SavedSet> {
  const sets = new Map<string, SavedSet>();
  for (const raw of text.split('\n')) {
    const w = raw.trim().split(/\s+/);
    if (w[0] === 'create' && w[1] && w[2]) {
      const f = w.indexOf('family');
      sets.set(w[1], { name: w[1], type: w[2], ...(f > 0 && { family: w[f + 1] }), members: new Set() });
    } else if (w[0] === 'add' && w[1] && w[2]) {
      sets.get(w[1])?.members.add(w[2]);
    }
  }
  return sets;
}

/** Cleanup input: destroy every set of ours that exists. */
export function renderIpsetDestroy(existing: Iterable<string>, ours: readonly string[]): string {
  const have = new Set(existing);
  const lines = ours.filter((n) => have.has(n)).map((n) => `destroy ${n}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
