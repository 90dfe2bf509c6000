// What the lab's two small programs (echo-server.ts, probe-client.ts) take and print.
// Pure, and imports nothing but types: those programs load it at every start.

import type { ProbeFailure } from './errors.ts';

/** What the echo server answers to any HTTP GET (but /healthz) and to every UDP datagram. */
export interface EchoReply {
  /** The name of the namespace that answered (the pod's name for pods). */
  pod: string;
  /** The source address the server saw (after any NAT on the way). */
  client: string;
  /** The source port the server saw. */
  clientPort: number;
}

export interface EchoServerConfig {
  name: string;
  http?: number;
  udp?: number;
  families: ('ipv4' | 'ipv6')[];
}

export type ProbeRequest =
  | { kind: 'http'; url: string; timeoutMs: number; localAddress?: string }
  | { kind: 'udp'; host: string; port: number; payload: string; timeoutMs: number; sourcePort?: number; localAddress?: string };

export type ProbeOutcome =
  | { ok: true; kind: 'http'; status: number; headers: Record<string, string>; body: string; elapsedMs: number }
  | { ok: true; kind: 'udp'; payload: string; from: { address: string; port: number }; elapsedMs: number }
  | { ok: false; failure: ProbeFailure; errno?: string; message: string; elapsedMs: number };

/** How a socket error reads as a probe failure. */
export function failureOf(errno: string | undefined): ProbeFailure {
  switch (errno) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    default:
      return 'error';
  }
}

/** Parses an echo reply; throws when the text is not one. */
export function parseEcho(text: string): EchoReply {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`not an echo reply: ${JSON.stringify(text)}`);
  }
  const v = value as Partial<EchoReply> | null;
  if (v === null || typeof v !== 'object' || typeof v.pod !== 'string' || typeof v.client !== 'string' || typeof v.clientPort !== 'number') {
    throw new Error(`not an echo reply: ${JSON.stringify(text)}`);
  }
  return { pod: v.pod, client: v.client, clientPort: v.clientPort };
}

/** Reads the outcome a probe-client printed (its last line of output). */
export function parseOutcome(stdout: string): ProbeOutcome {
  const last = stdout.trim().split('\n').pop() ?? '';
  let value: unknown;
  try {
    value = JSON.parse(last);
  } catch {
    throw new Error(`probe client printed no outcome: ${JSON.stringify(stdout)}`);
  }
  const v = value as { ok?: unknown; kind?: unknown; failure?: unknown; elapsedMs?: unknown } | null;
  if (v === null || typeof v !== 'object' || typeof v.ok !== 'boolean' || typeof v.elapsedMs !== 'number') {
    throw new Error(`probe client printed no outcome: ${JSON.stringify(stdout)}`);
  }
  return value as ProbeOutcome;
}

/** The URL of `path` on `ip:port`, with IPv6 addresses in brackets. */
export function urlFor(ip: string, port: number, path = '/'): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return `http://${host}:${port}${path.startsWith('/') ? path : `/${path}`}`;
}
