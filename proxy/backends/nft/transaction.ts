// Transactions: what to send `nft -f -` so the kernel's tables become what the renderer
// wants, given what the last successful transaction left there (the "view").
//
// - replace (nothing is known about the kernel: at start, after a failure, after
//   tampering): `add table` + `delete table` + the whole table, per family, in one
//   transaction. nft applies a file as one netlink batch, so packets see either the old
//   table or the new one, and anything left over from before (stale chains, objects
//   someone else added, changed chain hooks) is gone.
// - rewrite (a full sync while the view is trusted, e.g. the hourly one): every chain
//   flushed and rewritten, every map and set flushed and refilled, but the affinity
//   sets kept, so ClientIP affinity survives the periodic full sync.
// - partial: only the changed service ports' chains (flushed and rewritten when their
//   rules differ, added when new) and the map and set elements that differ.
//   Chains no longer used are flushed now and deleted by a later transaction, at least
//   `staleChainDelayMs` after (kube-proxy's workaround for kernels before 6.2, which
//   notice late that a chain is no longer referenced from a map element).
//
// Within a transaction the commands go in the order the kernel needs (see Tx), and the
// elements of one set or map are added or deleted a group a command.
//
// Plans mutate the view as if the transaction succeeded; the caller forgets the view when
// it fails (the next sync is then a replace).
import type { IPFamily, NodeView, ViewChanges } from '../../model/index.ts';
import { nftString } from './escape.ts';
import { nftFamily, tableComment, tableName } from './names.ts';
import { contextKey, renderFamily, renderServicePort, type ChainDef, type ContainerDef, type ElementDef, type FamilyContext, type FamilyRender, type Part, type RenderOptions } from './render.ts';

/** Elements as the kernel holds them. Two owners may want the same key (two Services with
 * one external IP and port, two ports of one Service in cluster-ips): the smallest owner wins. */
export class ElementTable {
  readonly #entries = new Map<string, Array<{ owner: string; value: string }>>();

  static id(e: ElementDef): string {
    return `${e.container}\u0000${e.key}`;
  }

  /** The value the kernel holds for this id, if any. */
  effective(id: string): string | undefined {
    return this.#entries.get(id)?.[0]?.value;
  }

  add(owner: string, e: ElementDef): void {
    const id = ElementTable.id(e);
    let list = this.#entries.get(id);
    if (!list) this.#entries.set(id, (list = []));
    const i = list.findIndex((x) => x.owner >= owner);
    if (i >= 0 && list[i]!.owner === owner) list[i] = { owner, value: e.value };
    else if (i < 0) list.push({ owner, value: e.value });
    else list.splice(i, 0, { owner, value: e.value });
  }

  remove(owner: string, e: ElementDef): void {
    const id = ElementTable.id(e);
    const list = this.#entries.get(id);
    if (!list) return;
    const i = list.findIndex((x) => x.owner === owner);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#entries.delete(id);
  }

  /** Every id with its effective value. */
  *all(): IterableIterator<[string, string]> {
    for (const [id, list] of this.#entries) yield [id, list[0]!.value];
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** What one family's table holds, as far as our transactions tell. */
export interface FamilyView {
  family: IPFamily;
  /** contextKey() of the context the table was rendered with. */
  context: string;
  global: Part;
  ports: Map<string, Part>;
  elements: ElementTable;
  /** Chains flushed and waiting to be deleted: name → when they were flushed (ms). */
  stale: Map<string, number>;
  /** Rules in the table. */
  rules: number;
}

export type Mode = 'replace' | 'rewrite' | 'partial';

export interface Plan {
  mode: Mode;
  /** The transaction; "" when there is nothing to do. */
  text: string;
  lines: number;
  bytes: number;
  /** Per family: service ports whose chains or elements this transaction writes. */
  written: Partial<Record<IPFamily, number>>;
}

const ownerGlobal = '';
const portOwner = (key: string) => `p:${key}`;
const id = ElementTable.id;

function splitId(elemId: string): { container: string; key: string } {
  const i = elemId.indexOf('\u0000');
  return { container: elemId.slice(0, i), key: elemId.slice(i + 1) };
}

const ruleCount = (p: Part) => p.chains.reduce((n, c) => n + c.rules.length, 0);
const sameRules = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((r, i) => r === b[i]);

/** Elements of one container written in one command (fewer netlink messages, shorter text). */
export const elementsPerLine = 64;

function group(groups: Map<string, string[]>, container: string): string[] {
  let list = groups.get(container);
  if (!list) groups.set(container, (list = []));
  return list;
}

/**
 * Transaction text, in the order nft needs: an object is flushed only once it surely exists,
 * deleted only once nothing refers to it any more, and referred to only once it was added.
 */
class Tx {
  /** Table commands. */
  readonly head: string[] = [];
  /** `add` of chains and containers that exist already (no-ops, unless someone deleted one). */
  readonly ensure: string[] = [];
  readonly flushes: string[] = [];
  /** Elements to delete and to add, per container (written a group a line). */
  readonly elementDeletes = new Map<string, string[]>();
  readonly setDeletes: string[] = [];
  readonly declarations: string[] = [];
  readonly rules: string[] = [];
  readonly elementAdds = new Map<string, string[]>();
  readonly t: string;

  constructor(family: IPFamily) {
    this.t = `${nftFamily(family)} ${tableName}`;
  }

  #chain(c: ChainDef): string {
    const opts = [c.spec !== undefined ? `${c.spec} ;` : '', c.comment !== undefined ? `comment ${nftString(c.comment)} ;` : ''].filter((x) => x !== '');
    return `add chain ${this.t} ${c.name}${opts.length > 0 ? ` { ${opts.join(' ')} }` : ''}`;
  }
  #container(c: ContainerDef): string {
    return `add ${c.kind} ${this.t} ${c.name} { ${c.body} }`;
  }

  addChain(c: ChainDef): void {
    this.declarations.push(this.#chain(c));
  }
  /** A chain that exists: made sure of, emptied, and refilled. */
  rewriteChain(c: ChainDef): void {
    this.ensure.push(this.#chain(c));
    this.flushChain(c.name);
    this.addRules(c);
  }
  addRules(c: ChainDef): void {
    for (const r of c.rules) this.rules.push(`add rule ${this.t} ${c.name} ${r}`);
  }
  flushChain(name: string): void {
    this.flushes.push(`flush chain ${this.t} ${name}`);
  }
  addContainer(c: ContainerDef): void {
    this.declarations.push(this.#container(c));
  }
  /** A set or map that exists with this definition: made sure of and emptied. */
  resetContainer(c: ContainerDef): void {
    this.ensure.push(this.#container(c));
    this.flushes.push(`flush ${c.kind} ${this.t} ${c.name}`);
  }
  deleteContainer(c: ContainerDef): void {
    this.setDeletes.push(`delete ${c.kind} ${this.t} ${c.name}`);
  }
  addElement(elemId: string, value: string): void {
    const { container, key } = splitId(elemId);
    group(this.elementAdds, container).push(`${key}${value}`);
  }
  deleteElement(elemId: string): void {
    const { container, key } = splitId(elemId);
    group(this.elementDeletes, container).push(key);
  }

  #elementLines(verb: 'add' | 'delete', groups: Map<string, string[]>): string[] {
    const out: string[] = [];
    for (const [container, items] of groups) {
      for (let i = 0; i < items.length; i += elementsPerLine) out.push(`${verb} element ${this.t} ${container} { ${items.slice(i, i + elementsPerLine).join(', ')} }`);
    }
    return out;
  }

  lines(): string[] {
    return [
      ...this.head,
      ...this.ensure,
      ...this.flushes,
      ...this.#elementLines('delete', this.elementDeletes),
      ...this.setDeletes,
      ...this.declarations,
      ...this.rules,
      ...this.#elementLines('add', this.elementAdds),
    ];
  }
}

function finish(mode: Mode, txs: Tx[], written: Partial<Record<IPFamily, number>>): Plan {
  const lines = txs.flatMap((t) => t.lines());
  const text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
  return { mode, text, lines: lines.length, bytes: Buffer.byteLength(text), written };
}

/** Renders every family. */
export function renderAll(view: NodeView, families: readonly IPFamily[], o: RenderOptions): Map<IPFamily, FamilyRender> {
  return new Map(families.map((f) => [f, renderFamily(view, f, o)]));
}

function newView(r: FamilyRender, stale: Map<string, number>): FamilyView {
  const elements = new ElementTable();
  let rules = ruleCount(r.global);
  for (const e of r.global.elements) elements.add(ownerGlobal, e);
  for (const [key, part] of r.ports) {
    for (const e of part.elements) elements.add(portOwner(key), e);
    rules += ruleCount(part);
  }
  return { family: r.family, context: contextKey(r.ctx), global: r.global, ports: r.ports, elements, stale, rules };
}

/**
 * Replace: the whole table of every family, from nothing. Returns the plan and the views
 * the kernel holds once it is applied.
 */
export function planReplace(view: NodeView, families: readonly IPFamily[], o: RenderOptions): { plan: Plan; views: Map<IPFamily, FamilyView> } {
  const views = new Map<IPFamily, FamilyView>();
  const txs: Tx[] = [];
  const written: Partial<Record<IPFamily, number>> = {};
  for (const [family, r] of renderAll(view, families, o)) {
    const tx = new Tx(family);
    const table = `add table ${tx.t} { comment ${nftString(tableComment)} ; }`;
    tx.head.push(table, `delete table ${tx.t}`, table);
    const parts = [r.global, ...r.ports.values()];
    for (const p of parts) for (const c of p.chains) tx.addChain(c);
    for (const p of parts) for (const c of p.containers) tx.addContainer(c);
    for (const p of parts) for (const c of p.chains) tx.addRules(c);
    const kernel = newView(r, new Map());
    for (const [elemId, value] of kernel.elements.all()) tx.addElement(elemId, value);
    views.set(family, kernel);
    txs.push(tx);
    written[family] = r.ports.size;
  }
  return { plan: finish('replace', txs, written), views };
}

/** Every chain name of a view (global and service ports), with its rules. */
function chainsOf(view: FamilyView): Map<string, ChainDef> {
  const out = new Map<string, ChainDef>();
  for (const c of view.global.chains) out.set(c.name, c);
  for (const p of view.ports.values()) for (const c of p.chains) out.set(c.name, c);
  return out;
}

function affinitySetsOf(parts: Iterable<Part>): Map<string, ContainerDef> {
  const out = new Map<string, ContainerDef>();
  for (const p of parts) for (const c of p.containers) out.set(c.name, c);
  return out;
}

/**
 * Rewrite: a full sync against a trusted view. Every chain is flushed and rewritten, the
 * global maps and sets flushed and refilled; affinity sets that stay are left alone.
 */
export function planRewrite(views: Map<IPFamily, FamilyView>, node: NodeView, families: readonly IPFamily[], o: RenderOptions, now: number): Plan {
  const txs: Tx[] = [];
  const written: Partial<Record<IPFamily, number>> = {};
  for (const [family, r] of renderAll(node, families, o)) {
    const old = views.get(family);
    if (!old) throw new Error(`no view of the ${family} table to rewrite`);
    const tx = new Tx(family);
    tx.head.push(`add table ${tx.t} { comment ${nftString(tableComment)} ; }`);
    const oldChains = chainsOf(old);
    const wanted = new Set<string>();
    for (const p of [r.global, ...r.ports.values()]) {
      for (const c of p.chains) {
        wanted.add(c.name);
        if (oldChains.has(c.name) || old.stale.delete(c.name)) tx.rewriteChain(c);
        else {
          tx.addChain(c);
          tx.addRules(c);
        }
      }
    }
    for (const name of oldChains.keys()) {
      if (wanted.has(name)) continue;
      tx.flushChain(name);
      old.stale.set(name, now);
    }
    // The global sets and maps: emptied (and refilled below); redefined when their definition changed.
    const oldGlobal = new Map(old.global.containers.map((c) => [c.name, c]));
    for (const c of r.global.containers) {
      const prev = oldGlobal.get(c.name);
      oldGlobal.delete(c.name);
      if (prev && prev.body === c.body) tx.resetContainer(c);
      else {
        if (prev) tx.deleteContainer(prev);
        tx.addContainer(c);
      }
    }
    for (const c of oldGlobal.values()) tx.deleteContainer(c);
    // Affinity sets: kept (with what they learnt) when unchanged.
    const oldSets = affinitySetsOf(old.ports.values());
    const newSets = affinitySetsOf(r.ports.values());
    for (const [name, c] of oldSets) {
      const next = newSets.get(name);
      if (!next || next.body !== c.body) tx.deleteContainer(c);
    }
    for (const [name, c] of newSets) {
      const prev = oldSets.get(name);
      if (!prev || prev.body !== c.body) tx.addContainer(c);
    }
    const view = newView(r, old.stale);
    for (const [elemId, value] of view.elements.all()) tx.addElement(elemId, value);
    views.set(family, view);
    txs.push(tx);
    written[family] = r.ports.size;
  }
  return finish('rewrite', txs, written);
}

/** The service ports a partial sync rewrites: the view's per-family change set, or the same keys in every family. */
export type ChangedPorts = Pick<ViewChanges, 'families'> | Iterable<string>;

function changedIn(changed: ChangedPorts, family: IPFamily): string[] {
  return [...('families' in changed ? changed.families[family].ports.keys() : changed)].sort();
}

/**
 * Partial: only `changed` service ports. The caller has checked that every family's context
 * is the one its view was rendered with (else a full sync is due).
 */
export function planPartial(views: Map<IPFamily, FamilyView>, node: NodeView, changed: ChangedPorts, ctxs: Map<IPFamily, FamilyContext>, now: number): Plan {
  const txs: Tx[] = [];
  const written: Partial<Record<IPFamily, number>> = {};
  // An iterable may be read once: take its keys before the families.
  const keyList = 'families' in changed ? undefined : [...changed];
  for (const [family, view] of views) {
    const ctx = ctxs.get(family);
    if (!ctx) throw new Error(`no context for the ${family} table`);
    const keys = changedIn(keyList ?? changed, family);
    const ports = node.families[family].servicePorts;
    const tx = new Tx(family);
    const before = new Map<string, string | undefined>();
    const touch = (e: ElementDef) => {
      const elemId = id(e);
      if (!before.has(elemId)) before.set(elemId, view.elements.effective(elemId));
    };
    let count = 0;
    for (const key of keys) {
      const fp = ports.get(key);
      const next = fp ? renderServicePort(fp, ctx) : undefined;
      const prev = view.ports.get(key);
      if (!prev && !next) continue;
      count++;
      const prevChains = new Map((prev?.chains ?? []).map((c) => [c.name, c]));
      const prevSets = new Map((prev?.containers ?? []).map((c) => [c.name, c]));
      // A set redefined (an affinity timeout changed) is deleted and re-added: every rule using it must go first.
      const redefined = (next?.containers ?? []).some((c) => prevSets.has(c.name) && prevSets.get(c.name)!.body !== c.body);
      for (const c of next?.chains ?? []) {
        const old = prevChains.get(c.name);
        if (old) {
          prevChains.delete(c.name);
          if (!redefined && sameRules(old.rules, c.rules)) continue;
          tx.flushChain(c.name);
        } else if (view.stale.delete(c.name)) {
          // Flushed by an earlier transaction and not deleted yet: reuse it.
        } else tx.addChain(c);
        tx.addRules(c);
      }
      for (const name of prevChains.keys()) {
        tx.flushChain(name);
        view.stale.set(name, now);
      }
      for (const c of next?.containers ?? []) {
        const old = prevSets.get(c.name);
        prevSets.delete(c.name);
        if (old && old.body === c.body) continue;
        if (old) tx.deleteContainer(old);
        tx.addContainer(c);
      }
      for (const c of prevSets.values()) tx.deleteContainer(c);

      const owner = portOwner(key);
      for (const e of prev?.elements ?? []) {
        touch(e);
        view.elements.remove(owner, e);
      }
      for (const e of next?.elements ?? []) {
        touch(e);
        view.elements.add(owner, e);
      }
      view.rules += (next ? ruleCount(next) : 0) - (prev ? ruleCount(prev) : 0);
      if (next) view.ports.set(key, next);
      else view.ports.delete(key);
    }
    for (const [elemId, was] of before) {
      const is = view.elements.effective(elemId);
      if (was === is) continue;
      if (was !== undefined) tx.deleteElement(elemId);
      if (is !== undefined) tx.addElement(elemId, is);
    }
    txs.push(tx);
    written[family] = count;
  }
  return finish('partial', txs, written);
}

/** Deletes the stale chains flushed at least `delayMs` ago; removes them from the views. */
export function planStaleDelete(views: Map<IPFamily, FamilyView>, now: number, delayMs: number): { plan: Plan; deleted: Array<{ family: IPFamily; chain: string }> } {
  const txs: Tx[] = [];
  const deleted: Array<{ family: IPFamily; chain: string }> = [];
  for (const [family, view] of views) {
    const tx = new Tx(family);
    for (const [chain, since] of [...view.stale].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (now - since < delayMs) continue;
      tx.head.push(`delete chain ${tx.t} ${chain}`);
      view.stale.delete(chain);
      deleted.push({ family, chain });
    }
    txs.push(tx);
  }
  return { plan: finish('partial', txs, {}), deleted };
}

/** When the next stale chain becomes deletable (ms), or undefined when none waits. */
export function nextStaleDue(views: Map<IPFamily, FamilyView>, delayMs: number): number | undefined {
  let due: number | undefined;
  for (const view of views.values()) for (const since of view.stale.values()) due = due === undefined ? since + delayMs : Math.min(due, since + delayMs);
  return due;
}

/** The cleanup transaction: both tables deleted (adding each first makes it idempotent). */
export function cleanupTransaction(families: readonly IPFamily[] = ['IPv4', 'IPv6']): string {
  return `${families.flatMap((f) => [`add table ${nftFamily(f)} ${tableName}`, `delete table ${nftFamily(f)} ${tableName}`]).join('\n')}\n`;
}
