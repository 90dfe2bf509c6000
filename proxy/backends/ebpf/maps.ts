// The byte layouts of the socket-LB maps (bpf/sock_lb.c's structs, field by field) and the
// bpftool batch lines that write them. The one place keys and values are encoded: the
// kernel side reads them as little-endian host integers, with addresses and ports in
// network order, as struct sockaddr holds them.
import { parseIP, type IPFamily, type Protocol } from '../../model/index.ts';
import { ebpfErrorText } from './errors.ts';

export type MapName = 'kpng_svc4' | 'kpng_svc6' | 'kpng_be';
/** The maps the backend writes; kpng_aff and kpng_rev are LRU maps only the programs write. */
export const writtenMaps: readonly MapName[] = ['kpng_be', 'kpng_svc4', 'kpng_svc6'];
export const allMaps = ['kpng_svc4', 'kpng_svc6', 'kpng_be', 'kpng_aff', 'kpng_rev'] as const;

export const protocolNumber: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** Bytes as bpftool's `hex` argument: "0a 60 00 0a". */
export function hex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (i > 0 ? ' ' : '') + (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16);
  return s;
}

/** bpftool's hex back to bytes (dumps print "0x0a" per byte). */
export function unhex(parts: readonly string[]): Uint8Array {
  return Uint8Array.from(parts.map((p) => Number.parseInt(p.replace(/^0x/, ''), 16)));
}

function addressBytes(ip: string, family: IPFamily): Uint8Array {
  const p = parseIP(ip);
  if (!p || p.family !== family) throw new Error(ebpfErrorText('KPNG_ERR_EBPF_ADDRESS', `${JSON.stringify(ip)} is not an ${family} address; accepted: a canonical ${family} address`));
  return p.bytes;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(ebpfErrorText('KPNG_ERR_EBPF_PORT', `port ${port}; accepted: an integer 1-65535`));
  return port;
}

function u32le(view: DataView, at: number, v: number): void {
  view.setUint32(at, v >>> 0, true);
}

/** struct svc_key4 / svc_key6: address, port (network order), protocol, pad. */
export function serviceKey(ip: string, family: IPFamily, port: number, protocol: Protocol): Uint8Array {
  const addr = addressBytes(ip, family);
  const out = new Uint8Array(addr.length + 4);
  out.set(addr, 0);
  new DataView(out.buffer).setUint16(addr.length, checkPort(port), false);
  out[addr.length + 2] = protocolNumber[protocol];
  return out;
}

/** struct svc_val: endpoint set id, slot count (0: refuse), affinity timeout in seconds (0: none). */
export function serviceValue(id: number, count: number, affinityTimeoutSeconds: number): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  u32le(v, 0, id);
  u32le(v, 4, count);
  u32le(v, 8, affinityTimeoutSeconds);
  return out;
}

/** struct be_key: endpoint set id, slot. */
export function endpointKey(id: number, slot: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  u32le(v, 0, id);
  u32le(v, 4, slot);
  return out;
}

/** struct be_val: 16 address bytes (IPv4 in the first 4), port (network order), pad. */
export function endpointValue(ip: string, family: IPFamily, port: number): Uint8Array {
  const out = new Uint8Array(20);
  out.set(addressBytes(ip, family), 0);
  new DataView(out.buffer).setUint16(16, checkPort(port), false);
  return out;
}

/** Decoded forms, for --dry-run readers and tests. */
export function decodeServiceValue(b: Uint8Array): { id: number; count: number; affinityTimeoutSeconds: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { id: v.getUint32(0, true), count: v.getUint32(4, true), affinityTimeoutSeconds: v.getUint32(8, true) };
}

export function decodeEndpointKey(b: Uint8Array): { id: number; slot: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { id: v.getUint32(0, true), slot: v.getUint32(4, true) };
}

/** One map operation; key and value in bpftool's hex. */
export type MapOp = { op: 'update'; map: MapName; key: string; value: string } | { op: 'delete'; map: MapName; key: string };

/** The `bpftool batch file` line for an operation on the maps pinned under `mapDir`. */
export function batchLine(o: MapOp, mapDir: string): string {
  if (/\s/.test(mapDir)) throw new Error(ebpfErrorText('KPNG_ERR_EBPF_PIN_PATH', `${JSON.stringify(mapDir)} contains white space; accepted: a path without spaces`));
  const base = `map ${o.op} pinned ${mapDir}/${o.map} key hex ${o.key}`;
  return o.op === 'update' ? `${base} value hex ${o.value}` : base;
}
