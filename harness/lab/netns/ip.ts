// Small IPv4/IPv6 address arithmetic for the lab's address plans. Pure.

import type { LowerIPFamily } from '../../../proxy/model/ip.ts';

/** An IP family as the lab spells it: the proxy's IPFamily in lower case (see proxy/model/ip.ts). */
export type Family = LowerIPFamily;

export interface Cidr {
  family: Family;
  /** The network address (host bits cleared). */
  network: bigint;
  prefix: number;
}

const BITS: Record<Family, number> = { ipv4: 32, ipv6: 128 };

export function familyBits(family: Family): number {
  return BITS[family];
}

/** The family of a textual address, or undefined when it is not an address. */
export function familyOf(ip: string): Family | undefined {
  try {
    parseIp(ip);
  } catch {
    return undefined;
  }
  return ip.includes(':') ? 'ipv6' : 'ipv4';
}

function parseIpv4(text: string): bigint {
  const parts = text.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${text}`);
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) throw new Error(`not an IPv4 address: ${text}`);
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(text: string): bigint {
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`not an IPv6 address: ${text}`);
  const groups = (half: string): string[] => (half === '' ? [] : half.split(':'));
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const last = tail.length > 0 ? tail[tail.length - 1] : head[head.length - 1];
  let v4Tail: bigint | undefined;
  if (last !== undefined && last.includes('.')) {
    v4Tail = parseIpv4(last);
    if (tail.length > 0) tail.pop();
    else head.pop();
  }
  const wanted = v4Tail === undefined ? 8 : 6;
  const missing = wanted - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw new Error(`not an IPv6 address: ${text}`);
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let value = 0n;
  for (const group of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) throw new Error(`not an IPv6 address: ${text}`);
    value = (value << 16n) | BigInt(`0x${group}`);
  }
  if (v4Tail !== undefined) value = (value << 32n) | v4Tail;
  return value;
}

/** Parses an address into its family and numeric value. Throws on anything else. */
export function parseIp(text: string): { family: Family; value: bigint } {
  if (text.includes(':')) return { family: 'ipv6', value: parseIpv6(text) };
  return { family: 'ipv4', value: parseIpv4(text) };
}

/** Formats an address; IPv6 in the canonical compressed form (RFC 5952). */
export function formatIp(family: Family, value: bigint): string {
  if (family === 'ipv4') {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // The longest run of two or more zero groups becomes '::' (the first such run on a tie).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parses `a.b.c.d/n` or `x::/n`. Host bits must be zero. */
export function parseCidr(text: string): Cidr {
  const [address, prefixText, ...rest] = text.split('/');
  if (address === undefined || prefixText === undefined || rest.length > 0 || !/^\d{1,3}$/.test(prefixText)) {
    throw new Error(`not a CIDR: ${text}`);
  }
  const { family, value } = parseIp(address);
  const prefix = Number(prefixText);
  if (prefix > BITS[family]) throw new Error(`not a CIDR: ${text}: prefix longer than ${BITS[family]} bits`);
  if ((value & hostMask(family, prefix)) !== 0n) throw new Error(`not a CIDR: ${text}: host bits set`);
  return { family, network: value, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.family, cidr.network)}/${cidr.prefix}`;
}

function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(BITS[family] - prefix)) - 1n;
}

/** Number of addresses in a CIDR. */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(BITS[cidr.family] - cidr.prefix);
}

/** The address `n` places after the network address of `cidr` (n = 1 is the first host). */
export function nthAddress(cidr: Cidr, n: bigint | number): string {
  const offset = BigInt(n);
  if (offset < 0n || offset >= cidrSize(cidr)) {
    throw new Error(`address #${offset} is outside ${formatCidr(cidr)}`);
  }
  return formatIp(cidr.family, cidr.network + offset);
}

/** The `index`-th subnet of length `prefix` inside `cidr` (index 0 is the first). */
export function subnet(cidr: Cidr, prefix: number, index: bigint | number): Cidr {
  if (prefix < cidr.prefix || prefix > BITS[cidr.family]) {
    throw new Error(`cannot cut /${prefix} subnets from ${formatCidr(cidr)}`);
  }
  const i = BigInt(index);
  const count = 1n << BigInt(prefix - cidr.prefix);
  if (i < 0n || i >= count) throw new Error(`subnet #${i} (/${prefix}) is outside ${formatCidr(cidr)}`);
  return { family: cidr.family, network: cidr.network + (i << BigInt(BITS[cidr.family] - prefix)), prefix };
}

/** Whether `ip` lies inside `cidr`. */
export function contains(cidr: Cidr, ip: string): boolean {
  const { family, value } = parseIp(ip);
  return family === cidr.family && (value & ~hostMask(family, cidr.prefix)) === cidr.network;
}

/** Strips the IPv4-mapped IPv6 form (`::ffff:10.0.0.1` → `10.0.0.1`); other text is returned unchanged. */
export function unmapIpv4(ip: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return match?.[1] ?? ip;
}
