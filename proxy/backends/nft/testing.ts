// The nft backend's test helpers: a pretend nftables for tests without root. It reads the
// transactions the planner writes (only that dialect of nft), applies each one all or
// nothing, and fails as the kernel does where our planning could go wrong: a reference to
// a chain or set that does not exist (yet), a chain deleted while it has rules or is
// referred to, a set deleted while a rule uses it, an element deleted that is not there or
// added twice with another value, an object re-added with another definition.
import type { Runner } from '../common/index.ts';

export interface FakeChain {
  /** What was between the braces of `add chain` ("" for a regular chain). */
  spec: string;
  rules: Array<{ text: string; handle: number }>;
  handle: number;
}

export interface FakeSet {
  kind: 'set' | 'map';
  body: string;
  /** key → what follows it ("" in a set, " : goto x" in a map, with its comment). */
  elements: Map<string, string>;
}

export interface FakeTable {
  comment: string;
  chains: Map<string, FakeChain>;
  sets: Map<string, FakeSet>;
  nextHandle: number;
}

export class FakeNftError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(message);
    this.line = line;
  }
}

/** Splits "a, b comment \"x, y\" : goto c" at the commas outside quotes and braces. */
function splitItems(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === '{') depth++;
    if (!quoted && ch === '}') depth--;
    if (!quoted && depth === 0 && ch === ',') {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** An element's key and what follows it. */
function splitElement(item: string): { key: string; value: string } {
  const m = /^(.*?)((?: comment "[^"]*")?(?: : .*)?)$/.exec(item)!;
  return { key: m[1]!, value: m[2]! };
}

function referencedChains(text: string): string[] {
  return [...text.matchAll(/\b(?:jump|goto) ([^\s,}]+)/g)].map((m) => m[1]!);
}

function referencedSets(text: string): string[] {
  return [...text.matchAll(/@([^\s,}]+)/g)].map((m) => m[1]!);
}

function inBraces(rest: string): string {
  const m = /^\{ (.*) \}$/.exec(rest.trim());
  return m ? m[1]! : rest.trim();
}

export class FakeNft {
  /** By "family name", e.g. "ip kpng". */
  tables = new Map<string, FakeTable>();
  /** Every transaction applied (or refused), in order. */
  readonly transactions: Array<{ text: string; ok: boolean }> = [];

  /** Applies a transaction all or nothing. */
  apply(text: string): void {
    this.tables = this.#applied(text);
  }

  /** Checks a transaction as `nft -c` does: throws where the kernel would refuse it, changes nothing. */
  check(text: string): void {
    this.#applied(text, false);
  }

  #applied(text: string, record = true): Map<string, FakeTable> {
    const work = new Map([...this.tables].map(([k, t]) => [k, cloneTable(t)]));
    const lines = text.split('\n');
    try {
      lines.forEach((line, i) => {
        if (line.trim() === '' || line.startsWith('#')) return;
        applyLine(work, line, i + 1);
      });
    } catch (err) {
      if (record) this.transactions.push({ text, ok: false });
      throw err;
    }
    if (record) this.transactions.push({ text, ok: true });
    return work;
  }

  table(family: 'ip' | 'ip6', name = 'kpng'): FakeTable | undefined {
    return this.tables.get(`${family} ${name}`);
  }

  /** A canonical text of a table: chains, sets and elements sorted by name (rules in order). */
  dump(family: 'ip' | 'ip6', name = 'kpng'): string {
    const t = this.table(family, name);
    if (!t) return '';
    const out: string[] = [];
    for (const [n, c] of [...t.chains].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.push(`chain ${n}${c.spec ? ` { ${c.spec} }` : ''}`, ...c.rules.map((r) => `  ${r.text}`));
    }
    for (const [n, s] of [...t.sets].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.push(`${s.kind} ${n} { ${s.body} }`, ...[...s.elements].map(([k, v]) => `  ${k}${v}`).sort());
    }
    return `${out.join('\n')}\n`;
  }

  /** `nft -a list chain` of one chain, in nft's layout (only what tamper checks read). */
  listChain(family: 'ip' | 'ip6', table: string, chain: string): string | undefined {
    const c = this.table(family, table)?.chains.get(chain);
    if (!c) return undefined;
    return [`table ${family} ${table} {`, ...chainLines(chain, c), '}', ''].join('\n');
  }

  /** `nft -a -t list table`: its chains in nft's layout (sets left out; only what tamper checks read). */
  listTable(family: 'ip' | 'ip6', table: string): string | undefined {
    const t = this.table(family, table);
    if (!t) return undefined;
    return [`table ${family} ${table} {`, ...[...t.chains].flatMap(([name, c]) => chainLines(name, c)), '}', ''].join('\n');
  }

  /** `nft -j list set|map` of one set or map, in nft's JSON layout (only what tamper checks read). */
  listContainer(family: 'ip' | 'ip6', table: string, kind: string, name: string): string | undefined {
    const s = this.table(family, table)?.sets.get(name);
    if (!s || s.kind !== kind) return undefined;
    const elem = [...s.elements.keys()];
    return JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6' } }, { [kind]: { family, name, table, ...(elem.length > 0 && { elem }) } }] });
  }

  /** A Runner answering `nft -f -`, `nft -c -f -`, `nft -a list chain`, `nft -a -t list table`, `nft -j list set|map`, `sysctl -n` and `ip -j addr show`. */
  runner(opts: { addresses?: string[]; missing?: string[]; calls?: string[] } = {}): Runner {
    return async (file, args, o = {}) => {
      opts.calls?.push([file, ...args].join(' '));
      if (opts.missing?.includes(file)) return { exitCode: undefined, stdout: '', stderr: `spawn ${file} ENOENT` };
      if (file === 'nft') {
        if (args.join(' ') === '-f -' || args.join(' ') === '-c -f -') {
          try {
            if (args[0] === '-c') this.check(o.input ?? '');
            else this.apply(o.input ?? '');
            return { exitCode: 0, stdout: '', stderr: '' };
          } catch (e) {
            const line = e instanceof FakeNftError ? e.line : 0;
            const text = (o.input ?? '').split('\n')[line - 1] ?? '';
            return { exitCode: 1, stdout: '', stderr: `/dev/stdin:${line}:1-${text.length}: Error: ${(e as Error).message}\n${text}\n` };
          }
        }
        if (args[0] === '-a' && args[1] === 'list' && args[2] === 'chain') {
          const text = this.listChain(args[3] as 'ip' | 'ip6', args[4]!, args[5]!);
          return text === undefined ? { exitCode: 1, stdout: '', stderr: 'Error: No such file or directory\n' } : { exitCode: 0, stdout: text, stderr: '' };
        }
        if (args.join(' ').startsWith('-a -t list table ')) {
          const text = this.listTable(args[4] as 'ip' | 'ip6', args[5]!);
          return text === undefined ? { exitCode: 1, stdout: '', stderr: 'Error: No such file or directory\n' } : { exitCode: 0, stdout: text, stderr: '' };
        }
        if (args[0] === '-j' && args[1] === 'list' && (args[2] === 'set' || args[2] === 'map')) {
          const text = this.listContainer(args[3] as 'ip' | 'ip6', args[4]!, args[2], args[5]!);
          return text === undefined ? { exitCode: 1, stdout: '', stderr: 'Error: No such file or directory\n' } : { exitCode: 0, stdout: text, stderr: '' };
        }
        return { exitCode: 1, stdout: '', stderr: `fake nft: unsupported ${args.join(' ')}` };
      }
      if (file === 'sysctl') return { exitCode: 0, stdout: '0\n', stderr: '' };
      if (file === 'ip') return { exitCode: 0, stdout: JSON.stringify([{ ifname: 'eth0', addr_info: (opts.addresses ?? []).map((local) => ({ local })) }]), stderr: '' };
      return { exitCode: undefined, stdout: '', stderr: `spawn ${file} ENOENT` };
    };
  }
}

function chainLines(name: string, c: FakeChain): string[] {
  return [`\tchain ${name} { # handle ${c.handle}`, ...c.rules.map((r) => `\t\t${r.text} # handle ${r.handle}`), '\t}'];
}

function cloneTable(t: FakeTable): FakeTable {
  return {
    comment: t.comment,
    nextHandle: t.nextHandle,
    chains: new Map([...t.chains].map(([k, c]) => [k, { spec: c.spec, handle: c.handle, rules: [...c.rules] }])),
    sets: new Map([...t.sets].map(([k, s]) => [k, { kind: s.kind, body: s.body, elements: new Map(s.elements) }])),
  };
}

const command = /^(add|delete|flush) (table|chain|rule|set|map|element) (ip6?) (\S+)(?: (\S+))?(?: (.*))?$/;

function applyLine(tables: Map<string, FakeTable>, line: string, n: number): void {
  const m = command.exec(line);
  if (!m) throw new FakeNftError(n, 'syntax error');
  const [, verb, what, family, tname, name, rest = ''] = m;
  const key = `${family} ${tname}`;
  const fail = (msg: string): never => {
    throw new FakeNftError(n, msg);
  };
  if (what === 'table') {
    if (verb === 'add') {
      if (!tables.has(key)) tables.set(key, { comment: inBraces(`${name ?? ''} ${rest}`), chains: new Map(), sets: new Map(), nextHandle: 1 });
    } else if (verb === 'delete') {
      if (!tables.delete(key)) fail('Could not process rule: No such file or directory');
    } else fail('unsupported');
    return;
  }
  const t = tables.get(key) ?? fail('Could not process rule: No such file or directory (no table)');
  if (name === undefined) return fail('syntax error');
  const chainExists = (c: string) => t.chains.has(c) || fail(`Could not process rule: No such file or directory (chain ${c})`);
  const setExists = (s: string) => t.sets.has(s) || fail(`Could not process rule: No such file or directory (set ${s})`);
  switch (`${verb} ${what}`) {
    case 'add chain': {
      const spec = rest === '' ? '' : inBraces(rest);
      const had = t.chains.get(name);
      if (had && had.spec !== spec) fail(`Could not process rule: Device or resource busy (chain ${name} redefined)`);
      if (!had) t.chains.set(name, { spec, rules: [], handle: t.nextHandle++ });
      return;
    }
    case 'flush chain':
      chainExists(name);
      t.chains.get(name)!.rules = [];
      return;
    case 'delete chain': {
      const c = t.chains.get(name) ?? fail(`Could not process rule: No such file or directory (chain ${name})`);
      if (c.rules.length > 0) fail(`Could not process rule: Device or resource busy (chain ${name} has rules)`);
      for (const [other, oc] of t.chains) for (const r of oc.rules) if (referencedChains(r.text).includes(name)) fail(`Could not process rule: Device or resource busy (${other} refers to ${name})`);
      for (const s of t.sets.values()) for (const v of s.elements.values()) if (referencedChains(v).includes(name)) fail(`Could not process rule: Device or resource busy (an element refers to ${name})`);
      t.chains.delete(name);
      return;
    }
    case 'delete rule': {
      chainExists(name);
      const handle = /^handle (\d+)$/.exec(rest.trim()) ?? fail('syntax error (delete rule without a handle)');
      const c = t.chains.get(name)!;
      const i = c.rules.findIndex((r) => r.handle === Number(handle[1]));
      if (i < 0) fail(`Could not process rule: No such file or directory (rule ${handle[1]} of ${name})`);
      c.rules.splice(i, 1);
      return;
    }
    case 'add rule': {
      chainExists(name);
      for (const c of referencedChains(rest)) chainExists(c);
      for (const s of referencedSets(rest)) setExists(s);
      t.chains.get(name)!.rules.push({ text: rest, handle: t.nextHandle++ });
      return;
    }
    case 'add set':
    case 'add map': {
      const body = inBraces(rest);
      const had = t.sets.get(name);
      if (had && (had.body !== body || had.kind !== what)) fail(`Could not process rule: File exists (${what} ${name} redefined)`);
      if (!had) t.sets.set(name, { kind: what as 'set' | 'map', body, elements: new Map() });
      return;
    }
    case 'flush set':
    case 'flush map':
      setExists(name);
      t.sets.get(name)!.elements.clear();
      return;
    case 'delete set':
    case 'delete map':
      setExists(name);
      for (const [c, ch] of t.chains) for (const r of ch.rules) if (referencedSets(r.text).includes(name)) fail(`Could not process rule: Device or resource busy (${c} uses @${name})`);
      t.sets.delete(name);
      return;
    case 'add element': {
      setExists(name);
      const s = t.sets.get(name)!;
      for (const item of splitItems(inBraces(rest))) {
        const { key: k, value } = splitElement(item);
        for (const c of referencedChains(value)) chainExists(c);
        const had = s.elements.get(k);
        if (had !== undefined && had !== value) fail(`Could not process rule: Device or resource busy (element ${k} of ${name} has another value)`);
        s.elements.set(k, value);
      }
      return;
    }
    case 'delete element': {
      setExists(name);
      const s = t.sets.get(name)!;
      for (const item of splitItems(inBraces(rest))) {
        if (!s.elements.delete(splitElement(item).key)) fail(`Could not process rule: No such file or directory (element ${item} of ${name})`);
      }
      return;
    }
    default:
      fail('unsupported');
  }
}
