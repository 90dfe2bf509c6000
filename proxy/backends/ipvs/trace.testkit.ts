// A packet tracer over what the ipvs backend renders: the iptables rules (nat and filter),
// the ipsets they match, and the IPVS virtual servers (the model of ipvsadm's table). It
// follows the first packet of a connection the way the kernel does in ipvs mode:
//   from outside or a pod: nat PREROUTING → routing → filter INPUT → IPVS (LOCAL_IN:
//   schedules a real server, rewrites the destination) → nat POSTROUTING; or, to an
//   address not of the node, filter FORWARD → nat POSTROUTING;
//   from the host: nat OUTPUT → IPVS (LOCAL_OUT) → filter OUTPUT → nat POSTROUTING.
// A virtual server without a real server of weight > 0 answers ICMP port unreachable
// (ip_vs_leave). Scheduling branches: each schedulable real server is one outcome, with an
// equal share (round robin over many connections); persistence (ClientIP affinity) keeps a
// client on the real server its template names. Tests only.
import { cidrContains, parseCIDR, parseIP, type ParsedIP } from '../../model/index.ts';
import { Ruleset, type Rule } from '../iptables/rules.ts';
import type { Packet } from '../iptables/trace.testkit.ts';
import { parseIpsetSave, type SavedSet } from './ipset.ts';
import { IpvsTable, hostPort, vsKey, type VirtualServer } from './ipvsadm.ts';

/** The iptables tracer's packet: the same questions, asked of what the ipvs backend renders. */
export type IpvsPacket = Packet;

export interface IpvsOutcome {
  verdict: 'ACCEPT' | 'DROP' | 'REJECT';
  probability: number;
  /** "ip:port" of the real server IPVS chose. */
  real?: string;
  /** The virtual server that took the packet. */
  virtualServer?: string;
  /** Delivered to a socket of the node itself (no virtual server took it). */
  local?: boolean;
  masquerade: boolean;
  rejectWith?: string;
  /** Which part decided a DROP or REJECT. */
  by?: 'iptables' | 'ipvs';
  /** The virtual server is persistent: a template now ties the client to `real`. */
  persistent?: boolean;
  path: string[];
}

export interface IpvsDataplane {
  iptables: string;
  ipset: string;
  ipvsadm: string;
  /** The node's own addresses (kube-ipvs0's included). */
  localAddresses: readonly string[];
}

interface State {
  src: string;
  dst: string;
  dport: number;
  mark: number;
  masquerade: boolean;
  /** Set once IPVS took the packet: its original destination. */
  vs?: VirtualServer;
  path: string[];
}

type Verdict = { verdict: 'ACCEPT' | 'DROP' | 'REJECT' | 'RETURN' | 'END'; rejectWith?: string };

const eq = (a: string, b: string) => {
  const x = parseIP(a);
  const y = parseIP(b);
  return !!x && !!y && x.family === y.family && x.bytes.every((v, i) => v === y.bytes[i]);
};
const inNet = (ip: string, spec: string) => {
  const c = parseCIDR(spec.includes('/') ? spec : `${spec}/${spec.includes(':') ? 128 : 32}`);
  const p = parseIP(ip);
  if (!c || !p) throw new Error(`bad address ${spec} / ${ip}`);
  return cidrContains(c, p);
};

export class IpvsTracer {
  readonly rules: Ruleset;
  readonly sets: Map<string, SavedSet>;
  readonly ipvs: IpvsTable;
  private readonly local: ParsedIP[];

  constructor(d: IpvsDataplane) {
    this.rules = new Ruleset().apply(d.iptables);
    this.sets = parseIpsetSave(d.ipset);
    this.ipvs = new IpvsTable().apply(d.ipvsadm);
    this.local = d.localAddresses.map((a) => parseIP(a)!);
  }

  isLocal(ip: string): boolean {
    const p = parseIP(ip)!;
    if (p.family === 'IPv4' && p.bytes[0] === 127) return true;
    if (p.family === 'IPv6' && p.bytes.every((b, i) => b === (i === 15 ? 1 : 0))) return true;
    return this.local.some((l) => l.family === p.family && l.bytes.every((b, i) => b === p.bytes[i]));
  }

  /** Every way the first packet of the connection can go. `persisted`: vsKey → the real server a template holds for this client. */
  trace(pkt: IpvsPacket, persisted: ReadonlyMap<string, string> = new Map()): IpvsOutcome[] {
    let s: State = { src: pkt.src, dst: pkt.dst, dport: pkt.dport, mark: 0, masquerade: false, path: [] };
    const done = (v: Verdict, st: State, extra: Partial<IpvsOutcome> = {}): IpvsOutcome[] => [
      {
        verdict: v.verdict === 'DROP' || v.verdict === 'REJECT' ? v.verdict : 'ACCEPT',
        probability: 1,
        masquerade: st.masquerade,
        ...(v.rejectWith && { rejectWith: v.rejectWith }),
        ...(v.verdict === 'DROP' || v.verdict === 'REJECT' ? { by: 'iptables' as const } : {}),
        path: st.path,
        ...extra,
      },
    ];
    const nat = this.hook('nat', pkt.origin === 'host' ? 'OUTPUT' : 'PREROUTING', s, pkt);
    s = nat.state;
    if (nat.verdict.verdict === 'DROP' || nat.verdict.verdict === 'REJECT') return done(nat.verdict, s);
    const host = pkt.origin === 'host';
    if (!host) {
      if (!this.isLocal(s.dst)) {
        const f = this.hook('filter', 'FORWARD', s, pkt);
        if (f.verdict.verdict === 'DROP' || f.verdict.verdict === 'REJECT') return done(f.verdict, f.state);
        return done({ verdict: 'ACCEPT' }, this.hook('nat', 'POSTROUTING', f.state, pkt).state);
      }
      const f = this.hook('filter', 'INPUT', s, pkt);
      s = f.state;
      if (f.verdict.verdict === 'DROP' || f.verdict.verdict === 'REJECT') return done(f.verdict, s);
    }
    const vs = this.ipvs.services.get(vsKey(pkt.protocol.toUpperCase(), s.dst, s.dport));
    if (!vs) {
      if (host) {
        const f = this.hook('filter', 'OUTPUT', s, pkt);
        if (f.verdict.verdict === 'DROP' || f.verdict.verdict === 'REJECT') return done(f.verdict, f.state);
        s = f.state;
      }
      return done({ verdict: 'ACCEPT' }, s, this.isLocal(s.dst) ? { local: true } : {});
    }
    const key = vsKey(vs.protocol, vs.address, vs.port);
    const schedulable = [...vs.reals.values()].filter((r) => r.weight > 0);
    const held = vs.persistence !== undefined ? persisted.get(key) : undefined;
    const chosen = held !== undefined && schedulable.some((r) => hostPort(r.address, r.port) === held) ? schedulable.filter((r) => hostPort(r.address, r.port) === held) : schedulable;
    if (chosen.length === 0) {
      return [{ verdict: 'REJECT', probability: 1, by: 'ipvs', rejectWith: s.dst.includes(':') ? 'icmp6-port-unreachable' : 'icmp-port-unreachable', virtualServer: key, masquerade: false, path: [...s.path, 'ipvs'] }];
    }
    const out: IpvsOutcome[] = [];
    for (const r of chosen) {
      let st: State = { ...s, vs, dst: r.address, dport: r.port, path: [...s.path, `ipvs ${key} -> ${hostPort(r.address, r.port)}`] };
      if (host) {
        const f = this.hook('filter', 'OUTPUT', st, pkt);
        if (f.verdict.verdict === 'DROP' || f.verdict.verdict === 'REJECT') {
          out.push(...done(f.verdict, f.state).map((o) => ({ ...o, probability: 1 / chosen.length, virtualServer: key })));
          continue;
        }
        st = f.state;
      }
      st = this.hook('nat', 'POSTROUTING', st, pkt).state;
      out.push({
        verdict: 'ACCEPT',
        probability: 1 / chosen.length,
        real: hostPort(r.address, r.port),
        virtualServer: key,
        masquerade: st.masquerade,
        ...(vs.persistence !== undefined && { persistent: true }),
        path: st.path,
      });
    }
    return out;
  }

  private hook(table: string, chain: string, s: State, pkt: IpvsPacket): { verdict: Verdict; state: State } {
    if (!this.rules.tables.has(table)) return { verdict: { verdict: 'ACCEPT' }, state: s };
    const r = this.walk(table, chain, s, pkt, 0);
    return { verdict: r.verdict.verdict === 'RETURN' || r.verdict.verdict === 'END' ? { verdict: 'ACCEPT' } : r.verdict, state: r.state };
  }

  private walk(table: string, chain: string, s0: State, pkt: IpvsPacket, depth: number): { verdict: Verdict; state: State } {
    if (depth > 32) throw new Error(`rule loop through ${table}/${chain}`);
    if (!this.rules.hasChain(table, chain)) throw new Error(`jump to ${table}/${chain}, which does not exist`);
    let s: State = { ...s0, path: [...s0.path, `${table}/${chain}`] };
    for (const rule of this.rules.rules(table, chain)) {
      const p = parse(rule);
      if (!p.matches.every((m) => this.match(m, s, pkt) !== m.negate)) continue;
      const t = p.target;
      if (t === undefined) continue;
      switch (t) {
        case 'ACCEPT':
        case 'DROP':
        case 'RETURN':
          return { verdict: { verdict: t }, state: s };
        case 'REJECT':
          return { verdict: { verdict: 'REJECT', rejectWith: p.targetArgs.get('--reject-with') ?? 'icmp-port-unreachable' }, state: s };
        case 'MASQUERADE':
          return { verdict: { verdict: 'ACCEPT' }, state: { ...s, masquerade: true } };
        case 'MARK': {
          let mark = s.mark;
          if (p.targetArgs.has('--or-mark')) mark |= Number(p.targetArgs.get('--or-mark'));
          if (p.targetArgs.has('--xor-mark')) mark ^= Number(p.targetArgs.get('--xor-mark'));
          s = { ...s, mark: mark >>> 0 };
          continue;
        }
        default: {
          const sub = this.walk(table, t, s, pkt, depth + 1);
          if (sub.verdict.verdict !== 'RETURN' && sub.verdict.verdict !== 'END') return sub;
          s = sub.state;
        }
      }
    }
    return { verdict: { verdict: 'END' }, state: s };
  }

  private match(m: Match, s: State, pkt: IpvsPacket): boolean {
    switch (m.module) {
      case '':
        if (m.option === '-p') return m.value === pkt.protocol;
        return inNet(m.option === '-s' ? s.src : s.dst, m.value);
      case 'comment':
        return true;
      case 'addrtype':
        return this.isLocal(m.option === '--src-type' ? s.src : s.dst);
      case 'physdev':
        return pkt.origin === 'pod';
      case 'conntrack':
        return m.value.split(',').includes('NEW');
      case 'mark': {
        const [v, mask] = m.value.split('/').map(Number) as [number, number];
        return ((s.mark & (mask ?? 0xffffffff)) >>> 0) === v >>> 0;
      }
      case 'ipvs': {
        const vs = s.vs;
        if (!vs) return false;
        if (m.option === '--vaddr') return eq(vs.address, m.value);
        if (m.option === '--vproto') return vs.protocol.toLowerCase() === m.value;
        return vs.port === Number(m.value);
      }
      case 'set':
        return this.inSet(m.value, m.flags!, s, pkt);
      default:
        throw new Error(`unsupported match module ${m.module}`);
    }
  }

  /** ipset's test of a packet against a set, with the rule's src/dst flags. */
  inSet(name: string, flags: string, s: State, pkt: IpvsPacket): boolean {
    const set = this.sets.get(name);
    if (!set) throw new Error(`rule matches set ${name}, which does not exist`);
    const f = flags.split(',');
    const ip = (dir: string | undefined) => (dir === 'src' ? s.src : s.dst);
    const port = (dir: string | undefined) => (dir === 'src' ? -1 : s.dport);
    for (const member of set.members) {
      const parts = member.split(',');
      switch (set.type) {
        case 'bitmap:port':
          if (Number(member) === port(f[0])) return true;
          break;
        case 'hash:ip':
          if (eq(member, ip(f[0]))) return true;
          break;
        default: {
          const [addr, pp, third] = parts as [string, string, string | undefined];
          const [proto, portText] = pp.split(':') as [string, string];
          if (!eq(addr, ip(f[0])) || proto !== pkt.protocol || Number(portText) !== port(f[1])) break;
          if (set.type === 'hash:ip,port') return true;
          if (set.type === 'hash:ip,port,ip' && third && eq(third, ip(f[2]))) return true;
          if (set.type === 'hash:ip,port,net' && third && inNet(ip(f[2]), third)) return true;
        }
      }
    }
    return false;
  }
}

interface Match {
  module: string;
  option: string;
  value: string;
  flags?: string;
  negate: boolean;
}

const noValue = new Set(['--physdev-is-in', '--random-fully']);

function parse(rule: Rule): { matches: Match[]; target?: string; targetArgs: Map<string, string> } {
  const a = rule.args;
  const matches: Match[] = [];
  const targetArgs = new Map<string, string>();
  let target: string | undefined;
  let module = '';
  let negate = false;
  for (let i = 0; i < a.length; i++) {
    const w = a[i]!;
    if (w === '!') {
      negate = true;
      continue;
    }
    if (w === '-m') {
      module = a[++i]!;
      continue;
    }
    if (w === '-j') {
      target = a[++i];
      continue;
    }
    const value = noValue.has(w) ? '' : a[++i]!;
    if (target !== undefined) targetArgs.set(w, value);
    else if (w === '-s' || w === '-d' || w === '-p') matches.push({ module: '', option: w, value, negate });
    else if (w === '--match-set') matches.push({ module: 'set', option: w, value, flags: a[++i]!, negate });
    else matches.push({ module, option: w, value, negate });
    negate = false;
  }
  return { matches, ...(target !== undefined && { target }), targetArgs };
}
