// The text format of iptables-save / iptables-restore: tokenizing a rule line the way
// iptables-restore does, and a small in-memory ruleset that applies restore input with
// --noflush semantics (used by the packet tracer, the cleanup planner and the tests).

export type Table = 'filter' | 'nat' | 'mangle' | 'raw' | 'security';

export const builtinChains: Readonly<Record<string, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export function isBuiltinChain(table: string, chain: string): boolean {
  return builtinChains[table]?.includes(chain) ?? false;
}

/** Splits a line into words; double quotes group, a backslash escapes a quote inside them. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '\\' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
      continue;
    }
    if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** Quotes a word for a rule line when it needs it (as iptables-save does). */
export function quote(word: string): string {
  return /^[^\s"]+$/.test(word) ? word : `"${word.replace(/"/g, '\\"')}"`;
}

export interface Rule {
  /** The rule's words after "-A CHAIN". */
  args: string[];
}

export interface TableState {
  /** Chains in creation order, with their rules. */
  chains: Map<string, Rule[]>;
  policies: Map<string, string>;
}

/** An error in restore input, with the 1-based line it happened on. */
export class RestoreParseError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'RestoreParseError';
    this.line = line;
  }
}

/** The target of a rule (-j / -g), or undefined. */
export function ruleTarget(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length - 1; i++) if (args[i] === '-j' || args[i] === '-g') return args[i + 1];
  return undefined;
}

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Tables, chains and rules, changed by restore input the way `iptables-restore --noflush`
 * changes the kernel's (or without --noflush, replacing each table it names). Each table
 * section takes effect at its COMMIT; an error leaves that table as it was.
 */
export class Ruleset {
  readonly tables = new Map<string, TableState>();

  table(name: string): TableState {
    let t = this.tables.get(name);
    if (!t) {
      t = { chains: new Map(), policies: new Map() };
      for (const c of builtinChains[name] ?? []) {
        t.chains.set(c, []);
        t.policies.set(c, 'ACCEPT');
      }
      this.tables.set(name, t);
    }
    return t;
  }

  rules(table: string, chain: string): readonly Rule[] {
    return this.tables.get(table)?.chains.get(chain) ?? [];
  }

  hasChain(table: string, chain: string): boolean {
    return this.tables.get(table)?.chains.has(chain) ?? false;
  }

  clone(): Ruleset {
    const r = new Ruleset();
    for (const [name, t] of this.tables) {
      r.tables.set(name, {
        chains: new Map([...t.chains].map(([c, rules]) => [c, rules.map((x) => ({ args: [...x.args] }))])),
        policies: new Map(t.policies),
      });
    }
    return r;
  }

  /** Applies restore input. Throws RestoreParseError (table sections committed before it stay). */
  apply(text: string, opts: { noflush?: boolean; checkTargets?: boolean } = {}): this {
    const noflush = opts.noflush ?? true;
    const checkTargets = opts.checkTargets ?? true;
    const lines = text.split('\n');
    let name: string | undefined;
    let work: TableState | undefined;
    const fail = (n: number, msg: string): never => {
      throw new RestoreParseError(n, msg);
    };
    for (let i = 0; i < lines.length; i++) {
      const n = i + 1;
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      if (line.startsWith('*')) {
        if (work) fail(n, `table ${name} was not committed before ${line}`);
        name = line.slice(1);
        if (!builtinChains[name]) fail(n, `unknown table ${name}`);
        const current = this.table(name);
        work = noflush
          ? { chains: new Map([...current.chains].map(([c, r]) => [c, [...r]])), policies: new Map(current.policies) }
          : new Ruleset().table(name);
        continue;
      }
      if (!work || name === undefined) {
        fail(n, 'rule outside of a table');
        continue;
      }
      if (line === 'COMMIT') {
        this.tables.set(name, work);
        work = undefined;
        continue;
      }
      if (line.startsWith(':')) {
        const [chain, policy] = line.slice(1).split(/\s+/);
        if (!chain) fail(n, 'chain declaration without a name');
        if (isBuiltinChain(name, chain!)) {
          if (policy && policy !== '-') work.policies.set(chain!, policy);
        } else {
          if (chain!.length > 28) fail(n, `chain name ${chain} is longer than 28 characters`);
          work.chains.set(chain!, []); // declared: created, or flushed
        }
        continue;
      }
      const words = tokenize(line);
      const op = words[0];
      const chain = words[1];
      if (!chain) fail(n, `${op} without a chain`);
      const rules = work.chains.get(chain!);
      const needChain = () => rules ?? fail(n, `chain ${chain} does not exist`);
      const checkTarget = (args: string[]) => {
        if (!checkTargets) return;
        const target = ruleTarget(args);
        if (target && /^[A-Z][A-Z0-9-]*$/.test(target) && !work!.chains.has(target) && !isStandardTarget(target)) {
          fail(n, `jump to chain ${target}, which does not exist`);
        }
      };
      switch (op) {
        case '-A': {
          const args = words.slice(2);
          checkTarget(args);
          needChain().push({ args });
          break;
        }
        case '-I': {
          let args = words.slice(2);
          let pos = 1;
          if (args[0] !== undefined && /^\d+$/.test(args[0])) {
            pos = Number(args[0]);
            args = args.slice(1);
          }
          checkTarget(args);
          needChain().splice(pos - 1, 0, { args });
          break;
        }
        case '-D': {
          const args = words.slice(2);
          const list = needChain();
          const idx = args.length === 1 && /^\d+$/.test(args[0]!) ? Number(args[0]) - 1 : list.findIndex((r) => sameArgs(r.args, args));
          if (idx < 0 || idx >= list.length) fail(n, `no such rule in ${chain}: ${args.join(' ')}`);
          list.splice(idx, 1);
          break;
        }
        case '-C': {
          const args = words.slice(2);
          if (!needChain().some((r) => sameArgs(r.args, args))) fail(n, 'Bad rule (does a matching rule exist in that chain?)');
          break;
        }
        case '-F':
          needChain();
          work.chains.set(chain!, []);
          break;
        case '-N':
          if (rules) fail(n, `chain ${chain} already exists`);
          work.chains.set(chain!, []);
          break;
        case '-X': {
          needChain();
          if (isBuiltinChain(name, chain!)) fail(n, `cannot delete built-in chain ${chain}`);
          if (rules!.length > 0) fail(n, `chain ${chain} is not empty`);
          for (const [other, list] of work.chains) {
            if (list.some((r) => ruleTarget(r.args) === chain)) fail(n, `chain ${chain} is still referenced from ${other}`);
          }
          work.chains.delete(chain!);
          break;
        }
        default:
          fail(n, `unknown command ${op}`);
      }
    }
    if (work) throw new RestoreParseError(lines.length, `table ${name} was not committed`);
    return this;
  }

  /** iptables-save style text of the given tables (all by default). */
  save(tables?: readonly string[]): string {
    const out: string[] = [];
    for (const name of tables ?? [...this.tables.keys()]) {
      const t = this.tables.get(name);
      if (!t) continue;
      out.push(`*${name}`);
      // Built-in chains first, then the others by name (as iptables-save prints them).
      const order = [...(builtinChains[name] ?? []), ...[...t.chains.keys()].filter((c) => !isBuiltinChain(name, c)).sort()];
      for (const c of order) out.push(`:${c} ${t.policies.get(c) ?? '-'} [0:0]`);
      for (const c of order) for (const r of t.chains.get(c) ?? []) out.push(`-A ${c} ${r.args.map(quote).join(' ')}`);
      out.push('COMMIT');
    }
    return `${out.join('\n')}\n`;
  }
}

const standardTargets = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'MARK', 'DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'LOG', 'CONNMARK', 'NOTRACK', 'CT', 'TPROXY', 'QUEUE', 'NFQUEUE']);

export function isStandardTarget(target: string): boolean {
  return standardTargets.has(target);
}

/** What a full sync needs to know about the kernel's current rules, read cheaply from iptables-save. */
export interface SavedState {
  /** Chain names per table. */
  chains: Map<string, Set<string>>;
  /** Rules of the built-in chains per table ("-A" words after the chain name). */
  builtinRules: Map<string, Map<string, string[][]>>;
}

/** Scans iptables-save output: every chain's name, and the rules of built-in chains only. */
export function scanSave(text: string): SavedState {
  const chains = new Map<string, Set<string>>();
  const builtinRules = new Map<string, Map<string, string[][]>>();
  let table = '';
  let names = new Set<string>();
  let rules = new Map<string, string[][]>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    const c = line.charCodeAt(0);
    if (c === 42 /* * */) {
      table = line.slice(1).trim();
      names = new Set();
      rules = new Map();
      chains.set(table, names);
      builtinRules.set(table, rules);
    } else if (c === 58 /* : */) {
      const sp = line.indexOf(' ');
      names.add(sp < 0 ? line.slice(1) : line.slice(1, sp));
    } else if (c === 45 /* - */ && line.startsWith('-A ')) {
      const sp = line.indexOf(' ', 3);
      const chain = sp < 0 ? line.slice(3) : line.slice(3, sp);
      if (!isBuiltinChain(table, chain)) continue;
      let list = rules.get(chain);
      if (!list) rules.set(chain, (list = []));
      list.push(tokenize(line).slice(2));
    }
  }
  return { chains, builtinRules };
}
