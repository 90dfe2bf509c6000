// The IPVS side in ipvsadm's own words: virtual and real servers, the `ipvsadm -R` input
// that adds, edits and deletes them (one ipvsadm command a line), `ipvsadm -S -n` read back,
// `ipvsadm -L -n -c` (the connection list) read for draining real servers, and IpvsTable: a
// model of the kernel's table that applies `-R` input the way ipvsadm does, line by line,
// stopping at the first command the kernel would refuse.
import type { Protocol } from '../../model/index.ts';

export interface RealServer {
  address: string;
  port: number;
  weight: number;
}

export interface VirtualServer {
  protocol: Protocol;
  address: string;
  port: number;
  scheduler: string;
  /** ClientIP affinity: `-p <seconds>`. */
  persistence?: number;
  /** Scheduler flags (`-b`), e.g. "mh-port". */
  schedFlags?: string;
  /** By realKey. */
  reals: Map<string, RealServer>;
}

const bracket = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);
/** "ip:port", "[ip6]:port". */
export const hostPort = (ip: string, port: number) => `${bracket(ip)}:${port}`;
/** A virtual server's identity: "TCP/172.30.0.41:80". */
export const vsKey = (protocol: string, address: string, port: number) => `${protocol}/${hostPort(address, port)}`;
export const realKey = (address: string, port: number) => hostPort(address, port);

const serviceOption: Record<Protocol, string> = { TCP: '-t', UDP: '-u', SCTP: '--sctp-service' };

function vsArgs(vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>): string {
  return `${serviceOption[vs.protocol]} ${hostPort(vs.address, vs.port)}`;
}

function vsAttrs(vs: VirtualServer): string {
  return `-s ${vs.scheduler}${vs.schedFlags ? ` -b ${vs.schedFlags}` : ''}${vs.persistence !== undefined ? ` -p ${vs.persistence}` : ''}`;
}

export const addVirtual = (vs: VirtualServer) => `-A ${vsArgs(vs)} ${vsAttrs(vs)}`;
export const editVirtual = (vs: VirtualServer) => `-E ${vsArgs(vs)} ${vsAttrs(vs)}`;
export const deleteVirtual = (vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>) => `-D ${vsArgs(vs)}`;
/** Real servers are reached by masquerading (NAT, `-m`), as kube-proxy's are. */
export const addReal = (vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>, rs: RealServer) => `-a ${vsArgs(vs)} -r ${hostPort(rs.address, rs.port)} -m -w ${rs.weight}`;
export const editReal = (vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>, rs: RealServer) => `-e ${vsArgs(vs)} -r ${hostPort(rs.address, rs.port)} -m -w ${rs.weight}`;
export const deleteReal = (vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>, rs: Pick<RealServer, 'address' | 'port'>) => `-d ${vsArgs(vs)} -r ${hostPort(rs.address, rs.port)}`;

/** Whether two virtual servers differ in what `-E` sets. */
export function attrsDiffer(a: VirtualServer, b: VirtualServer): boolean {
  return a.scheduler !== b.scheduler || a.persistence !== b.persistence || (a.schedFlags ?? '') !== (b.schedFlags ?? '');
}

/** "1.2.3.4:80" / "[fd00::1]:80" → address and port. */
export function splitHostPort(s: string): { address: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`not an address:port: ${s}`);
  return { address: m[1]!, port: Number(m[2]) };
}

/** An error in `ipvsadm -R` input, with the 1-based line ipvsadm stopped at. */
export class IpvsadmInputError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'IpvsadmInputError';
    this.line = line;
  }
}

interface Command {
  op: string;
  protocol: Protocol;
  address: string;
  port: number;
  scheduler?: string;
  persistence?: number;
  schedFlags?: string;
  real?: { address: string; port: number };
  weight?: number;
  forward?: string;
}

const schedulers = new Set(['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos']);

/** One line of `-R` input (or of `-S` output) as ipvsadm reads it. */
export function parseCommand(line: string): Command {
  const w = line.trim().split(/\s+/);
  const op = w[0]!;
  if (!['-A', '-E', '-D', '-a', '-e', '-d'].includes(op)) throw new Error(`unsupported command ${op}`);
  let protocol: Protocol | undefined;
  let service: string | undefined;
  const c: Partial<Command> = { op };
  for (let i = 1; i < w.length; i++) {
    const o = w[i]!;
    const value = () => {
      const v = w[++i];
      if (v === undefined) throw new Error(`option ${o} needs a value`);
      return v;
    };
    switch (o) {
      case '-t':
      case '--tcp-service':
        protocol = 'TCP';
        service = value();
        break;
      case '-u':
      case '--udp-service':
        protocol = 'UDP';
        service = value();
        break;
      case '--sctp-service':
        protocol = 'SCTP';
        service = value();
        break;
      case '-s':
      case '--scheduler': {
        const s = value();
        if (!schedulers.has(s)) throw new Error(`unknown scheduler ${s}`);
        c.scheduler = s;
        break;
      }
      case '-p':
      case '--persistent': {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 1) throw new Error(`bad persistence timeout ${w[i]}`);
        c.persistence = v;
        break;
      }
      case '-b':
      case '--sched-flags':
        c.schedFlags = value();
        break;
      case '-r':
      case '--real-server':
        c.real = splitHostPort(value());
        break;
      case '-w':
      case '--weight': {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 0 || v > 2147483647) throw new Error(`bad weight ${w[i]}`);
        c.weight = v;
        break;
      }
      case '-m':
      case '--masquerading':
        c.forward = 'masq';
        break;
      case '-g':
      case '-i':
        c.forward = o === '-g' ? 'route' : 'tunnel';
        break;
      default:
        throw new Error(`unknown option ${o}`);
    }
  }
  if (!protocol || !service) throw new Error('no service given (-t, -u or --sctp-service)');
  const { address, port } = splitHostPort(service);
  if ('aed'.includes(op[1]!) && !c.real) throw new Error(`${op} needs -r`);
  return { ...(c as Command), op, protocol, address, port };
}

/** The kernel's table of virtual servers, as far as ipvsadm shows it. */
export class IpvsTable {
  readonly services = new Map<string, VirtualServer>();

  clone(): IpvsTable {
    const t = new IpvsTable();
    for (const [k, vs] of this.services) t.services.set(k, { ...vs, reals: new Map([...vs.reals].map(([rk, r]) => [rk, { ...r }])) });
    return t;
  }

  /** Applies `ipvsadm -R` input; throws IpvsadmInputError at the first line ipvsadm would stop at (earlier lines stay applied, as in the kernel). */
  apply(text: string): this {
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      let c: Command;
      try {
        c = parseCommand(line);
      } catch (e) {
        throw new IpvsadmInputError(i + 1, (e as Error).message);
      }
      const key = vsKey(c.protocol, c.address, c.port);
      const vs = this.services.get(key);
      const fail = (m: string): never => {
        throw new IpvsadmInputError(i + 1, m);
      };
      switch (c.op) {
        case '-A':
          if (vs) fail('Service already exists');
          this.services.set(key, {
            protocol: c.protocol,
            address: c.address,
            port: c.port,
            scheduler: c.scheduler ?? 'wlc',
            ...(c.persistence !== undefined && { persistence: c.persistence }),
            ...(c.schedFlags !== undefined && { schedFlags: c.schedFlags }),
            reals: new Map(),
          });
          break;
        case '-E':
          if (!vs) fail('No such service');
          vs!.scheduler = c.scheduler ?? 'wlc';
          if (c.persistence !== undefined) vs!.persistence = c.persistence;
          else delete vs!.persistence;
          if (c.schedFlags !== undefined) vs!.schedFlags = c.schedFlags;
          else delete vs!.schedFlags;
          break;
        case '-D':
          if (!vs) fail('No such service');
          this.services.delete(key);
          break;
        default: {
          if (!vs) fail('Service not defined');
          const rk = realKey(c.real!.address, c.real!.port);
          if ((c.real!.address.includes(':')) !== c.address.includes(':')) fail('Invalid argument: real server of another family');
          const has = vs!.reals.has(rk);
          if (c.op === '-a' && has) fail('Destination already exists');
          if (c.op !== '-a' && !has) fail('No such destination');
          if (c.op === '-d') vs!.reals.delete(rk);
          else vs!.reals.set(rk, { address: c.real!.address, port: c.real!.port, weight: c.weight ?? 1 });
        }
      }
    });
    return this;
  }

  /** `ipvsadm -S -n`: every virtual server, then its real servers, sorted. */
  save(): string {
    const lines: string[] = [];
    for (const key of [...this.services.keys()].sort()) {
      const vs = this.services.get(key)!;
      lines.push(addVirtual(vs));
      for (const rk of [...vs.reals.keys()].sort()) lines.push(addReal(vs, vs.reals.get(rk)!));
    }
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  }
}

/** `ipvsadm -S -n` output (or `-R` input of -A/-a lines) → the table it describes. */
export function parseIpvsSave(text: string): IpvsTable {
  return new IpvsTable().apply(text);
}

/** One line of `ipvsadm -L -n -c`. */
export interface Connection {
  protocol: string;
  state: string;
  source: string;
  /** vsKey of the virtual server. */
  virtual: string;
  /** realKey of the destination. */
  destination: string;
}

/**
 * `ipvsadm -L -n -c` → its connections. Persistence templates (state NONE) are left out:
 * they are no connection, and expire_quiescent_template=1 expires them once the
 * destination's weight is 0.
 */
export function parseConnections(text: string): Connection[] {
  const out: Connection[] = [];
  for (const raw of text.split('\n')) {
    const w = raw.trim().split(/\s+/);
    if (w.length < 6 || !['TCP', 'UDP', 'SCTP'].includes(w[0]!)) continue;
    const [protocol, , state, source, virtual, destination] = w as [string, string, string, string, string, string];
    if (state === 'NONE') continue;
    const v = splitHostPort(virtual);
    const d = splitHostPort(destination);
    out.push({ protocol, state, source, virtual: vsKey(protocol, v.address, v.port), destination: realKey(d.address, d.port) });
  }
  return out;
}
