// IP addresses and CIDRs: parse, validate, canonicalize, match. Pure.

/** The proxy's one IP-family type. Flags and the harness spell it in lower case: see lowerFamily / parseIPFamily. */
export type IPFamily = 'IPv4' | 'IPv6';

/** Both families, IPv4 first. */
export const ipFamilies: readonly IPFamily[] = ['IPv4', 'IPv6'];

/** The lower-case spelling (the harness's and the netns lab's): 'ipv4' | 'ipv6'. */
export type LowerIPFamily = 'ipv4' | 'ipv6';

export function lowerFamily(family: IPFamily): LowerIPFamily {
  return family === 'IPv4' ? 'ipv4' : 'ipv6';
}

/** The proxy's spelling of a lower-case family. */
export function familyFromLower(family: LowerIPFamily): IPFamily {
  return family === 'ipv4' ? 'IPv4' : 'IPv6';
}

/** A family from either spelling, case-insensitive ("IPv4", "ipv4", "IPV6"); undefined when it is neither. */
export function parseIPFamily(text: string): IPFamily | undefined {
  const t = text.toLowerCase();
  return t === 'ipv4' ? 'IPv4' : t === 'ipv6' ? 'IPv6' : undefined;
}

/**
 * An --ip-families list: each entry a family in either spelling, duplicates dropped, in
 * the order given. `fail` builds the caller's error for an entry that is no family.
 */
export function parseIPFamilies(list: readonly string[], fail: (message: string) => Error): IPFamily[] {
  const out: IPFamily[] = [];
  for (const x of list) {
    const f = parseIPFamily(x);
    if (!f) throw fail(`--ip-families=${x}: accepted: IPv4, IPv6`);
    if (!out.includes(f)) out.push(f);
  }
  return out;
}

/** The family of an address the model already validated: IPv6 when it has a colon. */
export const familyOfIP = (ip: string): IPFamily => (ip.includes(':') ? 'IPv6' : 'IPv4');
/** The family of a CIDR the model already validated. */
export const familyOfCIDR = (cidr: string): IPFamily => familyOfIP(cidr.split('/')[0]!);

export interface ParsedIP {
  family: IPFamily;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface ParsedCIDR {
  family: IPFamily;
  bytes: Uint8Array;
  prefix: number;
}

/**
 * The 32-bit value of a dotted-quad IPv4 address, or -1 when the text is not one. Each part
 * 0-255 without leading zeros (ambiguous, octal in some parsers; Kubernetes rejects them),
 * so a text it accepts is already canonical. Read by char code without allocating: a
 * start at 10,000 Services reads and compares hundreds of thousands of addresses.
 */
function ipv4Value(text: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else return -1;
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
}

function parseIPv4(text: string): Uint8Array | undefined {
  const v = ipv4Value(text);
  if (v < 0) return undefined;
  return Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
}

function parseIPv6(text: string): Uint8Array | undefined {
  if (text.includes('%')) return undefined; // zones are not service addresses
  let head = text;
  let tail4: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > 0) {
    tail4 = parseIPv4(text.slice(lastColon + 1));
    if (!tail4) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const group = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = group(halves[0]!);
  const right = halves.length === 2 ? group(halves[1]!) : [];
  if (!left || !right) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...left, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...right];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  if (tail4) out.set(tail4, 12);
  return out;
}

export function parseIP(text: string): ParsedIP | undefined {
  if (typeof text !== 'string') return undefined;
  if (text.includes(':')) {
    const bytes = parseIPv6(text);
    return bytes && { family: 'IPv6', bytes };
  }
  const bytes = parseIPv4(text);
  return bytes && { family: 'IPv4', bytes };
}

export function isIP(text: string): boolean {
  return parseIP(text) !== undefined;
}

export function ipFamilyOf(text: string): IPFamily | undefined {
  if (typeof text === 'string' && ipv4Value(text) >= 0) return 'IPv4';
  return parseIP(text)?.family;
}

/** RFC 5952 text for an IPv6 address, dotted quad for IPv4. */
export function formatIP(ip: ParsedIP): string {
  if (ip.family === 'IPv4') return Array.from(ip.bytes).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  // Longest run of two or more zero words becomes "::" (first one on a tie).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** The canonical text of an IP, or undefined when it is not one. */
export function canonicalIP(text: string): string | undefined {
  if (typeof text === 'string' && ipv4Value(text) >= 0) return text;
  const ip = parseIP(text);
  return ip && formatIP(ip);
}

export function parseCIDR(text: string): ParsedCIDR | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > ip.bytes.length * 8) return undefined;
  // Mask off host bits so "10.0.0.1/8" and "10.0.0.0/8" are the same network.
  const bytes = ip.bytes.slice();
  for (let bit = prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { family: ip.family, bytes, prefix };
}

export function formatCIDR(cidr: ParsedCIDR): string {
  return `${formatIP({ family: cidr.family, bytes: cidr.bytes })}/${cidr.prefix}`;
}

export function canonicalCIDR(text: string): string | undefined {
  const cidr = parseCIDR(text);
  return cidr && formatCIDR(cidr);
}

export function cidrContains(cidr: ParsedCIDR, ip: ParsedIP): boolean {
  if (cidr.family !== ip.family) return false;
  for (let bit = 0; bit < cidr.prefix; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((cidr.bytes[bit >> 3]! & mask) !== (ip.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}

/** Whether the text CIDR contains the text IP (false when either does not parse). */
export function inCIDR(cidrText: string, ipText: string): boolean {
  const cidr = parseCIDR(cidrText);
  const ip = parseIP(ipText);
  return cidr !== undefined && ip !== undefined && cidrContains(cidr, ip);
}

/** Orders IPs by family (IPv4 first), then numerically. */
export function compareIPs(a: string, b: string): number {
  const va = ipv4Value(a);
  const vb = ipv4Value(b);
  if (va >= 0 && vb >= 0) return va - vb;
  const pa = parseIP(a);
  const pb = parseIP(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  if (pa.family !== pb.family) return pa.family === 'IPv4' ? -1 : 1;
  for (let i = 0; i < pa.bytes.length; i++) {
    const d = pa.bytes[i]! - pb.bytes[i]!;
    if (d !== 0) return d;
  }
  return 0;
}
