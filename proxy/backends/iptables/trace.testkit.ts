// A packet tracer over iptables rules: follows the first packet of a connection through
// nat and filter the way netfilter would, branching at `-m statistic` rules, and reports
// every possible outcome with its probability. Catches most rule mistakes before a kernel
// is involved (kube-proxy's proxier tests do the same).
import { cidrContains, parseCIDR, parseIP, type ParsedIP } from '../../model/index.ts';
import { Ruleset, isBuiltinChain, type Rule } from './rules.ts';
import { mergeOutcomes } from '../common/trace-outcomes.testkit.ts';

export interface Packet {
  src: string;
  dst: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  dport: number;
  /**
   * Where the packet comes from: another host or a pod (both arrive through PREROUTING),
   * or this host's own stack (OUTPUT).
   */
  origin: 'external' | 'pod' | 'host';
}

export interface TraceNode {
  /** The node's own addresses (addrtype LOCAL); loopback is always local. */
  localAddresses: readonly string[];
}

export interface TraceOptions {
  /** `-m recent` lists that already hold the packet's source (an affinity hit). */
  recent?: ReadonlySet<string>;
}

export type Verdict = 'ACCEPT' | 'DROP' | 'REJECT';

export interface Outcome {
  verdict: Verdict;
  probability: number;
  /** "IP:port" or "[IPv6]:port" after DNAT, when it happened. */
  dnat?: string;
  /** POSTROUTING masqueraded the packet. */
  masquerade: boolean;
  /** The packet mark when it left nat. */
  mark: number;
  rejectWith?: string;
  /** `-m recent --set` lists the packet was added to. */
  recentSet: string[];
  /** "table/chain" in the order entered (of the first path that led here). */
  path: string[];
}

/** A rule, parsed once: its matches and its target. */
interface Parsed {
  matches: Match[];
  target?: string;
  goto: boolean;
  targetArgs: Map<string, string>;
}

interface Match {
  option: string;
  value: string;
  negate: boolean;
  module?: string;
}

// Options without a value.
const flags = new Set(['--rcheck', '--set', '--update', '--remove', '--reap', '--random-fully', '--random', '--rsource', '--rdest', '--persistent']);
const targetOnly = new Set(['--to-destination', '--to-source', '--or-mark', '--xor-mark', '--set-xmark', '--set-mark', '--and-mark', '--reject-with', '--to-ports', '--random-fully', '--random', '--persistent']);

const parsedCache = new WeakMap<Rule, Parsed>();

export function parseRule(rule: Rule): Parsed {
  const cached = parsedCache.get(rule);
  if (cached) return cached;
  const a = rule.args;
  const p: Parsed = { matches: [], goto: false, targetArgs: new Map() };
  let module: string | undefined;
  let negate = false;
  let inTarget = false;
  for (let i = 0; i < a.length; i++) {
    const w = a[i]!;
    if (w === '!') {
      negate = true;
      continue;
    }
    if (w === '-m' || w === '--match') {
      module = a[++i];
      inTarget = false;
      continue;
    }
    if (w === '-j' || w === '--jump' || w === '-g' || w === '--goto') {
      p.target = a[++i];
      p.goto = w === '-g' || w === '--goto';
      inTarget = true;
      continue;
    }
    if (!w.startsWith('-')) throw new Error(`unexpected word ${JSON.stringify(w)} in rule: ${a.join(' ')}`);
    const hasValue = !flags.has(w);
    const value = hasValue ? a[++i] : '';
    if (value === undefined) throw new Error(`option ${w} without a value in rule: ${a.join(' ')}`);
    if (inTarget && (targetOnly.has(w) || !w.startsWith('--'))) {
      p.targetArgs.set(w, value);
    } else if (w === '-p' || w === '--protocol' || w === '-s' || w === '--source' || w === '-d' || w === '--destination') {
      p.matches.push({ option: w.length === 2 ? w : w === '--protocol' ? '-p' : w === '--source' ? '-s' : '-d', value, negate });
    } else if (w.startsWith('--')) {
      if (!module) throw new Error(`option ${w} outside of a match module in rule: ${a.join(' ')}`);
      if (inTarget) p.targetArgs.set(w, value);
      else p.matches.push({ option: w, value, negate, module });
    } else {
      throw new Error(`unsupported option ${w} in rule: ${a.join(' ')}`);
    }
    negate = false;
  }
  parsedCache.set(rule, p);
  return p;
}

interface State {
  src: string;
  dst: string;
  dport: number;
  mark: number;
  dnat?: string;
  masquerade: boolean;
  rejectWith?: string;
  recentSet: string[];
  path: string[];
}

type Step = { kind: 'verdict'; verdict: Verdict; state: State; p: number } | { kind: 'return'; state: State; p: number } | { kind: 'continue'; state: State; p: number };

function addr(text: string): ParsedIP {
  const ip = parseIP(text);
  if (!ip) throw new Error(`not an IP: ${text}`);
  return ip;
}

function inNet(ip: string, spec: string): boolean {
  const cidr = parseCIDR(spec.includes('/') ? spec : `${spec}/${spec.includes(':') ? 128 : 32}`);
  if (!cidr) throw new Error(`bad address match ${spec}`);
  return cidrContains(cidr, addr(ip));
}

function parseMarkSpec(spec: string): { value: number; mask: number } {
  const [v, m] = spec.split('/');
  return { value: Number(v), mask: m === undefined ? 0xffffffff : Number(m) };
}

function splitHostPort(s: string): { ip: string; port?: number } {
  const m = /^\[(.+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) return { ip: s };
  return m[2] !== undefined ? { ip: m[1]!, port: Number(m[2]) } : { ip: m[1]! };
}

export class Tracer {
  readonly ruleset: Ruleset;
  private readonly local: ParsedIP[];

  constructor(ruleset: Ruleset | string, node: TraceNode) {
    this.ruleset = typeof ruleset === 'string' ? new Ruleset().apply(ruleset) : ruleset;
    this.local = node.localAddresses.map(addr);
  }

  private isLocal(ip: string): boolean {
    const p = addr(ip);
    if (p.family === 'IPv4' && p.bytes[0] === 127) return true;
    if (p.family === 'IPv6' && p.bytes.every((b, i) => b === (i === 15 ? 1 : 0))) return true;
    return this.local.some((l) => l.family === p.family && l.bytes.every((b, i) => b === p.bytes[i]));
  }

  /** Every way the first packet of this connection can go, most likely first. */
  trace(packet: Packet, opts: TraceOptions = {}): Outcome[] {
    const start: State = { src: packet.src, dst: packet.dst, dport: packet.dport, mark: 0, masquerade: false, recentSet: [], path: [] };
    const hookNat = packet.origin === 'host' ? 'OUTPUT' : 'PREROUTING';
    const results: Outcome[] = [];
    for (const natStep of this.hook('nat', hookNat, start, 1, packet, opts)) {
      if (natStep.verdict !== 'ACCEPT') {
        results.push(this.outcome(natStep.verdict, natStep.state, natStep.p));
        continue;
      }
      const s = natStep.state;
      const filterHook = packet.origin === 'host' ? 'OUTPUT' : this.isLocal(s.dst) ? 'INPUT' : 'FORWARD';
      for (const f of this.hook('filter', filterHook, s, natStep.p, packet, opts)) {
        if (f.verdict !== 'ACCEPT' || filterHook === 'INPUT') {
          results.push(this.outcome(f.verdict, f.state, f.p));
          continue;
        }
        for (const post of this.hook('nat', 'POSTROUTING', f.state, f.p, packet, opts)) results.push(this.outcome(post.verdict, post.state, post.p));
      }
    }
    return mergeOutcomes(results, 'recentSet');
  }

  private outcome(verdict: Verdict, s: State, p: number): Outcome {
    return {
      verdict,
      probability: p,
      ...(s.dnat !== undefined && { dnat: s.dnat }),
      masquerade: s.masquerade,
      mark: s.mark,
      ...(s.rejectWith !== undefined && { rejectWith: s.rejectWith }),
      recentSet: s.recentSet,
      path: s.path,
    };
  }

  /** Runs a built-in chain; the end of it is its policy. */
  private hook(table: string, chain: string, s: State, p: number, pkt: Packet, opts: TraceOptions): Array<{ verdict: Verdict; state: State; p: number }> {
    if (!this.ruleset.tables.has(table)) return [{ verdict: 'ACCEPT', state: s, p }];
    const policy = (this.ruleset.tables.get(table)!.policies.get(chain) ?? 'ACCEPT') as Verdict;
    return this.walk(table, chain, 0, s, p, pkt, opts, 0).map((st) =>
      st.kind === 'verdict' ? { verdict: st.verdict, state: st.state, p: st.p } : { verdict: policy, state: st.state, p: st.p },
    );
  }

  private walk(table: string, chain: string, from: number, s0: State, p: number, pkt: Packet, opts: TraceOptions, depth: number): Step[] {
    if (depth > 64) throw new Error(`rule loop through ${table}/${chain}`);
    const rules = this.ruleset.rules(table, chain);
    if (!this.ruleset.hasChain(table, chain)) throw new Error(`jump to ${table}/${chain}, which does not exist`);
    let s: State = from === 0 ? { ...s0, path: [...s0.path, `${table}/${chain}`] } : s0;
    const out: Step[] = [];
    for (let i = from; i < rules.length; i++) {
      const rule = parseRule(rules[i]!);
      const m = this.matches(rule, s, pkt, opts);
      if (m === 0) continue;
      if (m < 1) {
        // A random match: the other branch goes on as if the rule had not matched.
        out.push(...this.walk(table, chain, i + 1, s, p * (1 - m), pkt, opts, depth));
        p *= m;
      }
      const next = this.apply(rule, s);
      const target = rule.target;
      if (target === undefined) {
        s = next;
        continue;
      }
      switch (target) {
        case 'ACCEPT':
          out.push({ kind: 'verdict', verdict: 'ACCEPT', state: next, p });
          return out;
        case 'DROP':
          out.push({ kind: 'verdict', verdict: 'DROP', state: next, p });
          return out;
        case 'REJECT':
          out.push({ kind: 'verdict', verdict: 'REJECT', state: { ...next, rejectWith: rule.targetArgs.get('--reject-with') ?? 'icmp-port-unreachable' }, p });
          return out;
        case 'RETURN':
          out.push({ kind: 'return', state: next, p });
          return out;
        case 'DNAT': {
          const to = rule.targetArgs.get('--to-destination');
          if (!to) throw new Error('DNAT without --to-destination');
          const hp = splitHostPort(to);
          out.push({ kind: 'verdict', verdict: 'ACCEPT', state: { ...next, dst: hp.ip, dport: hp.port ?? next.dport, dnat: to }, p });
          return out;
        }
        case 'MASQUERADE':
          out.push({ kind: 'verdict', verdict: 'ACCEPT', state: { ...next, masquerade: true }, p });
          return out;
        case 'MARK':
          s = next;
          continue;
        default: {
          if (isBuiltinChain(table, target) || !this.ruleset.hasChain(table, target)) throw new Error(`unsupported target ${target} in ${table}/${chain}`);
          for (const sub of this.walk(table, target, 0, next, p, pkt, opts, depth + 1)) {
            if (sub.kind === 'verdict') out.push(sub);
            else if (rule.goto) out.push({ kind: 'return', state: sub.state, p: sub.p });
            else out.push(...this.walk(table, chain, i + 1, sub.state, sub.p, pkt, opts, depth));
          }
          return out;
        }
      }
    }
    out.push({ kind: 'continue', state: s, p });
    return out;
  }

  /** 1 when every match holds, 0 when one fails, the probability of a statistic match otherwise. */
  private matches(rule: Parsed, s: State, pkt: Packet, opts: TraceOptions): number {
    let chance = 1;
    for (const m of rule.matches) {
      let ok: boolean;
      switch (m.module ?? '') {
        case '':
          ok = m.option === '-p' ? m.value === pkt.protocol || m.value === 'all' : m.option === '-s' ? inNet(s.src, m.value) : inNet(s.dst, m.value);
          break;
        case 'tcp':
        case 'udp':
        case 'sctp':
          if (m.option === '--dport' || m.option === '--destination-port') ok = pkt.protocol === m.module && Number(m.value) === s.dport;
          else throw new Error(`unsupported ${m.module} option ${m.option}`);
          break;
        case 'comment':
        case 'nfacct':
          ok = true;
          break;
        case 'addrtype':
          if (m.value !== 'LOCAL') throw new Error(`unsupported addrtype ${m.value}`);
          ok = this.isLocal(m.option === '--src-type' ? s.src : s.dst);
          break;
        case 'conntrack': {
          if (m.option !== '--ctstate') throw new Error(`unsupported conntrack option ${m.option}`);
          const states = new Set(['NEW', ...(s.dnat !== undefined ? ['DNAT'] : [])]);
          ok = m.value.split(',').some((x) => states.has(x));
          break;
        }
        case 'mark': {
          const { value, mask } = parseMarkSpec(m.value);
          ok = (s.mark & mask) >>> 0 === value >>> 0;
          break;
        }
        case 'statistic':
          if (m.option === '--mode') {
            if (m.value !== 'random') throw new Error(`unsupported statistic mode ${m.value}`);
            ok = true;
          } else if (m.option === '--probability') {
            chance *= Number(m.value);
            ok = true;
          } else throw new Error(`unsupported statistic option ${m.option}`);
          break;
        case 'recent':
          if (m.option === '--name') {
            const checks = rule.matches.some((x) => x.module === 'recent' && (x.option === '--rcheck' || x.option === '--update'));
            ok = !checks || (opts.recent?.has(m.value) ?? false);
          } else ok = true;
          break;
        default:
          throw new Error(`unsupported match module ${m.module}`);
      }
      if (ok === m.negate) return 0;
    }
    return chance;
  }

  /** The state after a rule's non-terminal effects (marks, recent --set). */
  private apply(rule: Parsed, s: State): State {
    let next = s;
    const setName = rule.matches.some((m) => m.module === 'recent' && m.option === '--set') ? rule.matches.find((m) => m.module === 'recent' && m.option === '--name')?.value : undefined;
    if (setName) next = { ...next, recentSet: [...next.recentSet, setName] };
    if (rule.target === 'MARK') {
      const a = rule.targetArgs;
      let mark = next.mark;
      if (a.has('--or-mark')) mark |= Number(a.get('--or-mark'));
      if (a.has('--xor-mark')) mark ^= Number(a.get('--xor-mark'));
      if (a.has('--and-mark')) mark &= Number(a.get('--and-mark'));
      if (a.has('--set-mark')) mark = Number(a.get('--set-mark'));
      if (a.has('--set-xmark')) {
        const { value, mask } = parseMarkSpec(a.get('--set-xmark')!);
        mark = (mark & ~mask) ^ value;
      }
      next = { ...next, mark: mark >>> 0 };
    }
    return next;
  }
}

/** Traces one packet through restore text (or a ruleset). */
export function tracePacket(rules: Ruleset | string, node: TraceNode, packet: Packet, opts?: TraceOptions): Outcome[] {
  return new Tracer(rules, node).trace(packet, opts);
}
