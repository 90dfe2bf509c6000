// A packet tracer over the nft backend's tables: follows the first packet of a connection
// through the base chains of its family's table (by hook and priority), the regular chains
// they jump and go to, verdict maps, sets and anonymous sets, the way netfilter would;
// branches at `numgen random` and reports every possible outcome with its probability.
// The same questions as the iptables tracer (../iptables/trace.testkit.ts) answers for
// iptables rules, with its Packet and the same Outcome shape, so one state can be traced
// through both backends and the answers compared. Test support: the build leaves *.testkit.ts out.
import { cidrContains, parseCIDR, parseIP, type ParsedIP } from '../../model/index.ts';
import type { Packet, TraceNode, Verdict } from '../iptables/trace.testkit.ts';
import { FakeNft, type FakeTable } from './testing.ts';
import { mergeOutcomes } from '../common/trace-outcomes.testkit.ts';

export type { Packet, TraceNode, Verdict };

export interface TraceOptions {
  /** Affinity sets (`@affinity-...`) that already hold the packet's source address. */
  affinity?: ReadonlySet<string>;
}

export interface Outcome {
  verdict: Verdict;
  probability: number;
  /** "IP:port" or "[IPv6]:port" after DNAT, when it happened. */
  dnat?: string;
  /** The nat postrouting chain masqueraded the packet. */
  masquerade: boolean;
  /** The packet mark at the end. */
  mark: number;
  /** What `reject` answers: icmp-port-unreachable (ip) or icmp6-port-unreachable (ip6). */
  rejectWith?: string;
  /** Sets the packet's source was added to (`update @set { ip saddr }`): affinity. */
  affinitySet: string[];
  /** Chains in the order entered (of the first path that led here). */
  path: string[];
}

interface State {
  src: string;
  dst: string;
  dport: number;
  mark: number;
  dnat?: string;
  masquerade: boolean;
  rejectWith?: string;
  affinitySet: string[];
  path: string[];
}

/** How a chain (or one rule) ended: a verdict, `return` (or the end of the chain), or on to the next rule. */
type End = 'accept' | 'drop' | 'reject' | 'return' | 'next';
interface Step {
  end: End;
  s: State;
  p: number;
}

type Selector = 'saddr' | 'daddr' | 'l4proto' | 'dport' | 'mark' | 'fib-saddr' | 'fib-daddr' | 'ct-state';

/** One piece of a rule, in the order nft evaluates them. */
type Op =
  | { kind: 'match'; keys: Selector[]; negate: boolean; values: string[] }
  | { kind: 'member'; keys: Selector[]; negate: boolean; set: string }
  | { kind: 'vmap'; keys: Selector[]; map: string }
  | { kind: 'inline-vmap'; keys: Selector[]; entries: Array<{ key: string; verdict: string }> }
  | { kind: 'mark-test'; and: number; equals: number; negate: boolean }
  | { kind: 'chance'; probability: number }
  | { kind: 'numgen-vmap'; modulus: number; entries: Map<number, string> }
  | { kind: 'mark-set'; op: 'or' | 'xor' | 'and' | 'set'; value: number }
  | { kind: 'update'; set: string }
  | { kind: 'verdict'; verdict: string }
  | { kind: 'dnat'; to: string }
  | { kind: 'masquerade' };

/** Splits rule text into words, keeping `{ ... }` groups and quoted strings whole. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === ' ') {
      i++;
      continue;
    }
    let j = i;
    if (ch === '{') {
      let depth = 0;
      for (; j < text.length; j++) {
        if (text[j] === '"') j = text.indexOf('"', j + 1);
        if (text[j] === '{') depth++;
        if (text[j] === '}' && --depth === 0) break;
      }
      if (depth !== 0 || j >= text.length) throw new Error(`unbalanced braces in rule: ${text}`);
      j++;
    } else if (ch === '"') {
      j = text.indexOf('"', i + 1);
      if (j < 0) throw new Error(`unterminated string in rule: ${text}`);
      j++;
    } else {
      while (j < text.length && text[j] !== ' ') j++;
    }
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

/** The items of a `{ a, b : c }` group, split at top-level commas. */
function braceItems(group: string): string[] {
  const inner = group.slice(1, -1);
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (const ch of inner) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === '{') depth++;
    if (!quoted && ch === '}') depth--;
    if (!quoted && depth === 0 && ch === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** A map element's verdict: what follows " : ", its comment dropped. */
function elementVerdict(value: string): string {
  const i = value.lastIndexOf(' : ');
  if (i < 0) throw new Error(`map element without a verdict: ${value}`);
  return value.slice(i + 3).trim();
}

const verdictWords = new Set(['accept', 'drop', 'return', 'reject']);

/** Parses one rule of the dialect the nft renderer writes; refuses anything else. */
export function parseRule(text: string): Op[] {
  const t = tokenize(text);
  const ops: Op[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at word ${i + 1} of rule: ${text}`);
  };
  const selector = (): Selector | undefined => {
    const w = t[i];
    if ((w === 'ip' || w === 'ip6') && (t[i + 1] === 'saddr' || t[i + 1] === 'daddr')) {
      i += 2;
      return t[i - 1] as Selector;
    }
    if (w === 'meta' && t[i + 1] === 'l4proto') {
      i += 2;
      return 'l4proto';
    }
    if (w === 'th' && t[i + 1] === 'dport') {
      i += 2;
      return 'dport';
    }
    if (w === 'fib' && (t[i + 1] === 'saddr' || t[i + 1] === 'daddr') && t[i + 2] === 'type') {
      i += 3;
      return t[i - 2] === 'saddr' ? 'fib-saddr' : 'fib-daddr';
    }
    if (w === 'ct' && t[i + 1] === 'state') {
      i += 2;
      return 'ct-state';
    }
    return undefined;
  };
  const num = (w: string | undefined): number => {
    const n = Number(w);
    if (w === undefined || !Number.isInteger(n)) fail(`expected a number, got ${w}`);
    return n;
  };
  while (i < t.length) {
    const w = t[i]!;
    if (w === 'comment') {
      if (!t[i + 1]?.startsWith('"')) fail('comment without a string');
      i += 2;
      continue;
    }
    if (w === 'counter') {
      i++;
      continue;
    }
    if ((w === 'tcp' || w === 'udp' || w === 'sctp') && t[i + 1] === 'dport') {
      ops.push({ kind: 'match', keys: ['l4proto'], negate: false, values: [w] });
      i += 2;
      const negate = t[i] === '!=';
      if (negate) i++;
      ops.push({ kind: 'match', keys: ['dport'], negate, values: valuesOf(t[i++] ?? fail('dport without a value')) });
      continue;
    }
    if (w === 'mark') {
      if (t[i + 1] === 'set') {
        if (t[i + 2] === 'mark') {
          const op = t[i + 3];
          if (op !== 'or' && op !== 'xor' && op !== 'and') fail(`unsupported mark operation ${op}`);
          ops.push({ kind: 'mark-set', op: op as 'or' | 'xor' | 'and', value: num(t[i + 4]) });
          i += 5;
        } else {
          ops.push({ kind: 'mark-set', op: 'set', value: num(t[i + 2]) });
          i += 3;
        }
        continue;
      }
      if (t[i + 1] === 'and') {
        const and = num(t[i + 2]);
        const op = t[i + 3];
        if (op !== '==' && op !== '!=') fail(`unsupported mark comparison ${op}`);
        ops.push({ kind: 'mark-test', and, equals: num(t[i + 4]), negate: op === '!=' });
        i += 5;
        continue;
      }
      fail('unsupported mark expression');
    }
    if (w === 'numgen') {
      if (t[i + 1] !== 'random' || t[i + 2] !== 'mod') fail('unsupported numgen expression');
      const modulus = num(t[i + 3]);
      i += 4;
      if (t[i] === 'vmap') {
        const group = t[i + 1] ?? fail('vmap without elements');
        if (!group.startsWith('{')) fail('numgen vmap without an inline map');
        const entries = new Map<number, string>();
        for (const item of braceItems(group)) {
          const [k, v] = item.split(' : ');
          if (v === undefined) fail(`numgen vmap element without a verdict: ${item}`);
          entries.set(num(k), v!.trim());
        }
        ops.push({ kind: 'numgen-vmap', modulus, entries });
        i += 2;
        continue;
      }
      if (num(t[i]) !== 0) fail('numgen compared with anything but 0');
      ops.push({ kind: 'chance', probability: 1 / modulus });
      i++;
      continue;
    }
    if (w === 'update') {
      const set = t[i + 1];
      if (!set?.startsWith('@') || !t[i + 2]?.startsWith('{')) fail('unsupported update statement');
      ops.push({ kind: 'update', set: set!.slice(1) });
      i += 3;
      continue;
    }
    if (w === 'dnat') {
      if (t[i + 1] !== 'to' || t[i + 2] === undefined) fail('dnat without "to ADDRESS"');
      ops.push({ kind: 'dnat', to: t[i + 2]! });
      i += 3;
      continue;
    }
    if (w === 'masquerade') {
      ops.push({ kind: 'masquerade' });
      i++;
      while (t[i] === 'fully-random' || t[i] === 'random' || t[i] === 'persistent') i++;
      continue;
    }
    if (verdictWords.has(w)) {
      if (w === 'reject' && t[i + 1] === 'with') fail('reject with an explicit type is not in the renderer\'s dialect');
      ops.push({ kind: 'verdict', verdict: w });
      i++;
      continue;
    }
    if (w === 'jump' || w === 'goto') {
      ops.push({ kind: 'verdict', verdict: `${w} ${t[i + 1] ?? fail(`${w} without a chain`)}` });
      i += 2;
      continue;
    }
    // A selector or a concatenation of them, then what is done with it.
    const keys: Selector[] = [];
    for (;;) {
      const k = selector() ?? fail(`unsupported expression ${JSON.stringify(t[i])}`);
      keys.push(k);
      if (t[i] !== '.') break;
      i++;
    }
    const next = t[i] ?? fail('expression without a value');
    if (next === 'vmap') {
      const target = t[i + 1] ?? fail('vmap without a map');
      if (target.startsWith('@')) ops.push({ kind: 'vmap', keys, map: target.slice(1) });
      else if (target.startsWith('{')) {
        ops.push({
          kind: 'inline-vmap',
          keys,
          entries: braceItems(target).map((item) => {
            const at = item.lastIndexOf(' : ');
            return { key: item.slice(0, at), verdict: item.slice(at + 3).trim() };
          }),
        });
      } else fail('vmap without a map');
      i += 2;
      continue;
    }
    const negate = next === '!=';
    if (negate || next === '==') i++;
    const value = t[i] ?? fail('expression without a value');
    if (value.startsWith('@')) ops.push({ kind: 'member', keys, negate, set: value.slice(1) });
    else {
      if (keys.length !== 1) fail('a concatenation compared with a value');
      ops.push({ kind: 'match', keys, negate, values: valuesOf(value) });
    }
    i++;
  }
  return ops;
}

function valuesOf(word: string): string[] {
  return word.startsWith('{') ? braceItems(word) : [word];
}

const protocolNumbers: Record<string, string> = { '6': 'tcp', '17': 'udp', '132': 'sctp' };

function ipOf(text: string): ParsedIP {
  const ip = parseIP(text);
  if (!ip) throw new Error(`not an IP: ${text}`);
  return ip;
}

function sameIP(a: ParsedIP, b: ParsedIP): boolean {
  return a.family === b.family && a.bytes.every((x, i) => x === b.bytes[i]);
}

/** Does the packet's value of `key` equal (or fall in) the literal `lit`? */
function valueMatches(key: Selector, actual: string | number, lit: string): boolean {
  switch (key) {
    case 'saddr':
    case 'daddr': {
      const ip = ipOf(String(actual));
      if (lit.includes('/')) {
        const cidr = parseCIDR(lit);
        if (!cidr) throw new Error(`bad CIDR ${lit}`);
        return cidrContains(cidr, ip);
      }
      if (lit.includes('-') && !lit.includes(':')) throw new Error(`address ranges are not in the renderer's dialect: ${lit}`);
      const other = parseIP(lit);
      return other !== undefined && sameIP(ip, other);
    }
    case 'l4proto':
      return actual === (protocolNumbers[lit] ?? lit);
    case 'dport':
    case 'mark':
      return Number(actual) === Number(lit);
    case 'fib-saddr':
    case 'fib-daddr':
      if (lit !== 'local') throw new Error(`unsupported fib type ${lit}`);
      return actual === 'local';
    case 'ct-state':
      return lit.split(',').includes(String(actual));
  }
}

function splitHostPort(s: string): { ip: string; port?: number } {
  const m = /^\[(.+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) return { ip: s };
  return m[2] !== undefined ? { ip: m[1]!, port: Number(m[2]) } : { ip: m[1]! };
}

/** The hooks a first packet passes through, in order, by where it comes from and where it goes. */
type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export class NftTracer {
  readonly nft: FakeNft;
  private readonly local: ParsedIP[];
  private readonly parsed = new Map<string, Op[]>();

  /** `rules`: the transactions applied in order (a full one, then partial ones), or a FakeNft holding the tables. */
  constructor(rules: string | readonly string[] | FakeNft, node: TraceNode) {
    if (rules instanceof FakeNft) this.nft = rules;
    else {
      this.nft = new FakeNft();
      for (const text of typeof rules === 'string' ? [rules] : rules) this.nft.apply(text);
    }
    this.local = node.localAddresses.map(ipOf);
  }

  private isLocal(text: string): boolean {
    const p = ipOf(text);
    if (p.family === 'IPv4' && p.bytes[0] === 127) return true;
    if (p.family === 'IPv6' && p.bytes.every((b, i) => b === (i === 15 ? 1 : 0))) return true;
    return this.local.some((l) => sameIP(l, p));
  }

  /** Every way the first packet of this connection can go, most likely first. */
  trace(packet: Packet, opts: TraceOptions = {}): Outcome[] {
    const family = ipOf(packet.dst).family === 'IPv6' ? 'ip6' : 'ip';
    if (ipOf(packet.src).family !== ipOf(packet.dst).family) throw new Error(`source ${packet.src} and destination ${packet.dst} are of different families`);
    const table = this.nft.table(family);
    const start: State = { src: packet.src, dst: packet.dst, dport: packet.dport, mark: 0, masquerade: false, affinitySet: [], path: [] };
    const run = new Run(table, packet, opts, (ip) => this.isLocal(ip), this.parsed, family === 'ip6' ? 'icmp6-port-unreachable' : 'icmp-port-unreachable');
    const results: Outcome[] = [];
    const finish = (verdict: Verdict, s: State, p: number) => results.push(outcome(verdict, s, p));
    /** Runs `hooks` one after the other from (s, p); `then` decides what follows the last one. */
    const through = (hooks: Hook[], s: State, p: number, then: (s: State, p: number) => void) => {
      if (hooks.length === 0) return then(s, p);
      for (const r of run.hook(hooks[0]!, s, p)) {
        if (r.verdict === 'ACCEPT') through(hooks.slice(1), r.s, r.p, then);
        else finish(r.verdict, r.s, r.p);
      }
    };
    if (packet.origin === 'host') {
      // Out through output and postrouting; a local destination then comes back in through input.
      through(['output', 'postrouting'], start, 1, (s, p) => (this.isLocal(s.dst) ? through(['input'], s, p, (s2, p2) => finish('ACCEPT', s2, p2)) : finish('ACCEPT', s, p)));
    } else {
      through(['prerouting'], start, 1, (s, p) => through(this.isLocal(s.dst) ? ['input'] : ['forward', 'postrouting'], s, p, (s2, p2) => finish('ACCEPT', s2, p2)));
    }
    return mergeOutcomes(results, 'affinitySet');
  }
}

/** One packet's walk through one table. */
class Run {
  private readonly table: FakeTable | undefined;
  private readonly pkt: Packet;
  private readonly opts: TraceOptions;
  private readonly isLocal: (ip: string) => boolean;
  private readonly parsed: Map<string, Op[]>;
  private readonly rejectWith: string;

  constructor(table: FakeTable | undefined, pkt: Packet, opts: TraceOptions, isLocal: (ip: string) => boolean, parsed: Map<string, Op[]>, rejectWith: string) {
    this.table = table;
    this.pkt = pkt;
    this.opts = opts;
    this.isLocal = isLocal;
    this.parsed = parsed;
    this.rejectWith = rejectWith;
  }

  /** The base chains of a hook, by priority; the packet goes on while each accepts. */
  hook(hook: Hook, s0: State, p0: number): Array<{ verdict: Verdict; s: State; p: number }> {
    const chains = [...(this.table?.chains ?? [])]
      .map(([name, c]) => ({ name, m: /\bhook (\S+) priority (-?\d+)/.exec(c.spec) }))
      .filter((c) => c.m?.[1] === hook)
      .sort((a, b) => Number(a.m![2]) - Number(b.m![2]))
      .map((c) => c.name);
    let live: Array<{ s: State; p: number }> = [{ s: s0, p: p0 }];
    const out: Array<{ verdict: Verdict; s: State; p: number }> = [];
    for (const chain of chains) {
      const next: Array<{ s: State; p: number }> = [];
      for (const { s, p } of live) {
        for (const r of this.chain(chain, s, p, 0)) {
          if (r.end === 'drop') out.push({ verdict: 'DROP', s: r.s, p: r.p });
          else if (r.end === 'reject') out.push({ verdict: 'REJECT', s: r.s, p: r.p });
          else next.push({ s: r.s, p: r.p }); // accept, return, the end of the chain: its policy, accept
        }
      }
      live = next;
    }
    return [...out, ...live.map(({ s, p }) => ({ verdict: 'ACCEPT' as const, s, p }))];
  }

  private chain(name: string, s0: State, p: number, depth: number): Step[] {
    if (depth > 64) throw new Error(`chain loop through ${name}`);
    const c = this.table?.chains.get(name);
    if (!c) throw new Error(`jump to chain ${name}, which does not exist`);
    return this.rules(name, 0, { ...s0, path: [...s0.path, name] }, p, depth);
  }

  private rules(name: string, from: number, s: State, p: number, depth: number): Step[] {
    const rules = this.table!.chains.get(name)!.rules;
    if (from >= rules.length) return [{ end: 'return', s, p }];
    const text = rules[from]!.text;
    let ops = this.parsed.get(text);
    if (!ops) this.parsed.set(text, (ops = parseRule(text)));
    const out: Step[] = [];
    for (const r of this.ops(ops, 0, s, p, depth)) {
      if (r.end === 'next') out.push(...this.rules(name, from + 1, r.s, r.p, depth));
      else out.push(r);
    }
    return out;
  }

  /** The rule's pieces from `k` on: `next` when it does not match or matches without a verdict. */
  private ops(ops: Op[], k: number, s: State, p: number, depth: number): Step[] {
    if (k >= ops.length) return [{ end: 'next', s, p }];
    const op = ops[k]!;
    const rest = (s2: State, p2 = p) => this.ops(ops, k + 1, s2, p2, depth);
    switch (op.kind) {
      case 'match': {
        const actual = this.value(op.keys[0]!, s);
        const hit = op.values.some((v) => valueMatches(op.keys[0]!, actual, v));
        return hit !== op.negate ? rest(s) : [{ end: 'next', s, p }];
      }
      case 'member': {
        const hit = this.member(op.set, op.keys, s);
        return hit !== op.negate ? rest(s) : [{ end: 'next', s, p }];
      }
      case 'mark-test':
        return (((s.mark & op.and) >>> 0) === op.equals) !== op.negate ? rest(s) : [{ end: 'next', s, p }];
      case 'chance':
        return [{ end: 'next', s, p: p * (1 - op.probability) }, ...rest(s, p * op.probability)];
      case 'vmap': {
        const set = this.container(op.map);
        for (const [key, value] of set.elements) if (this.keyMatches(op.keys, key, s)) return this.verdict(elementVerdict(value), s, p, depth, ops, k);
        return [{ end: 'next', s, p }];
      }
      case 'inline-vmap': {
        for (const e of op.entries) if (this.keyMatches(op.keys, e.key, s)) return this.verdict(e.verdict, s, p, depth, ops, k);
        return [{ end: 'next', s, p }];
      }
      case 'numgen-vmap': {
        const out: Step[] = [];
        for (let n = 0; n < op.modulus; n++) {
          const v = op.entries.get(n);
          if (v === undefined) out.push({ end: 'next', s, p: p / op.modulus });
          else out.push(...this.verdict(v, s, p / op.modulus, depth, ops, k));
        }
        return out;
      }
      case 'mark-set': {
        const m = op.op === 'or' ? s.mark | op.value : op.op === 'xor' ? s.mark ^ op.value : op.op === 'and' ? s.mark & op.value : op.value;
        return rest({ ...s, mark: m >>> 0 });
      }
      case 'update':
        this.container(op.set);
        return rest({ ...s, affinitySet: [...s.affinitySet, op.set] });
      case 'dnat': {
        const hp = splitHostPort(op.to);
        return [{ end: 'accept', s: { ...s, dst: hp.ip, dport: hp.port ?? s.dport, dnat: op.to }, p }];
      }
      case 'masquerade':
        return [{ end: 'accept', s: { ...s, masquerade: true }, p }];
      case 'verdict':
        return this.verdict(op.verdict, s, p, depth, ops, k);
    }
  }

  /** A verdict: accept, drop, reject, return, or a jump (then the rule goes on) or goto (then the chain returns). */
  private verdict(v: string, s: State, p: number, depth: number, ops: Op[], k: number): Step[] {
    if (v === 'accept' || v === 'drop' || v === 'return') return [{ end: v, s, p }];
    if (v === 'reject') return [{ end: 'reject', s: { ...s, rejectWith: this.rejectWith }, p }];
    const m = /^(jump|goto) (\S+)$/.exec(v);
    if (!m) throw new Error(`unsupported verdict ${JSON.stringify(v)}`);
    const out: Step[] = [];
    for (const r of this.chain(m[2]!, s, p, depth + 1)) {
      if (r.end !== 'return') out.push(r);
      else if (m[1] === 'goto') out.push(r);
      else out.push(...this.ops(ops, k + 1, r.s, r.p, depth));
    }
    return out;
  }

  private value(key: Selector, s: State): string | number {
    switch (key) {
      case 'saddr':
        return s.src;
      case 'daddr':
        return s.dst;
      case 'l4proto':
        return this.pkt.protocol;
      case 'dport':
        return s.dport;
      case 'mark':
        return s.mark;
      case 'fib-saddr':
        return this.isLocal(s.src) ? 'local' : 'unicast';
      case 'fib-daddr':
        return this.isLocal(s.dst) ? 'local' : 'unicast';
      case 'ct-state':
        return 'new';
    }
  }

  private container(name: string) {
    const c = this.table?.sets.get(name);
    if (!c) throw new Error(`@${name} does not exist`);
    return c;
  }

  private keyMatches(keys: Selector[], key: string, s: State): boolean {
    const parts = key.split(' . ').map((x) => x.trim());
    if (parts.length !== keys.length) throw new Error(`element ${key} does not have ${keys.length} parts`);
    return keys.every((k, i) => valueMatches(k, this.value(k, s), parts[i]!));
  }

  private member(name: string, keys: Selector[], s: State): boolean {
    const set = this.container(name);
    if (name.startsWith('affinity-')) {
      // Dynamic sets the dataplane fills: the caller says which hold this source.
      if (keys.length !== 1 || keys[0] !== 'saddr') throw new Error(`@${name} keyed by ${keys.join(' . ')}`);
      return this.opts.affinity?.has(name) ?? false;
    }
    for (const key of set.elements.keys()) if (this.keyMatches(keys, key, s)) return true;
    return false;
  }
}

function outcome(verdict: Verdict, s: State, p: number): Outcome {
  return {
    verdict,
    probability: p,
    ...(s.dnat !== undefined && { dnat: s.dnat }),
    masquerade: s.masquerade,
    mark: s.mark,
    ...(verdict === 'REJECT' && s.rejectWith !== undefined && { rejectWith: s.rejectWith }),
    affinitySet: s.affinitySet,
    path: s.path,
  };
}

/** Traces one packet through nft transaction text(s). */
export function traceNftPacket(rules: string | readonly string[] | FakeNft, node: TraceNode, packet: Packet, opts?: TraceOptions): Outcome[] {
  return new NftTracer(rules, node).trace(packet, opts);
}
