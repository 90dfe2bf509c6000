// Where the node-local API listens or is reached (unix:///path or tcp://host:port), and
// its TLS: server certificates, and client certificates when a CA is given (mutual TLS).
import { readFile } from 'node:fs/promises';
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { ApiError } from './errors.ts';

export type ApiAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

const accepted = 'accepted: unix:///absolute/path or tcp://host:port, e.g. unix:///run/kpng.sock, tcp://127.0.0.1:12090, tcp://[::1]:12090';

/**
 * Parse `unix:///absolute/path` or `tcp://host:port` (IPv6 hosts in brackets). An empty
 * host (`tcp://:12090`) is allowed where `emptyHost` says so: it listens on every IPv4
 * address.
 */
export function parseApiAddress(text: string, flag: string, opts: { emptyHost?: boolean } = {}): ApiAddress {
  const bad = (why: string) => new ApiError('KPNG_ERR_API_ADDRESS', `--${flag}=${JSON.stringify(text)}: ${why} (${accepted})`);
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!path.startsWith('/')) throw bad('the socket path must be absolute');
    return { kind: 'unix', path };
  }
  if (text.startsWith('tcp://')) {
    const rest = text.slice('tcp://'.length);
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw bad('no port');
    let host = rest.slice(0, colon);
    const portText = rest.slice(colon + 1);
    if (host.startsWith('[') !== host.endsWith(']')) throw bad('unbalanced brackets around the host');
    if (host.startsWith('[')) host = host.slice(1, -1);
    else if (host.includes(':')) throw bad('an IPv6 host needs brackets');
    const port = Number(portText);
    if (!/^[0-9]+$/.test(portText) || port > 65535) throw bad(`port ${JSON.stringify(portText)} is not a number from 0 to 65535`);
    if (host === '' && !opts.emptyHost) throw bad('no host');
    if (/[/?#@\s]/.test(host)) throw bad(`host ${JSON.stringify(host)} is not a host name or IP address`);
    return { kind: 'tcp', host, port };
  }
  throw bad('unknown scheme');
}

export function formatApiAddress(a: ApiAddress): string {
  return a.kind === 'unix' ? `unix://${a.path}` : `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** The address in gRPC's target syntax. */
export function grpcTarget(a: ApiAddress): string {
  if (a.kind === 'unix') return `unix://${a.path}`;
  const host = a.host === '' ? '0.0.0.0' : a.host;
  return `${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}

/** File paths of PEM files. */
export interface TLSFiles {
  cert?: string | undefined;
  key?: string | undefined;
  ca?: string | undefined;
}

function tlsError(message: string): ApiError {
  return new ApiError('KPNG_ERR_API_TLS', message);
}

async function readPEM(flag: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw tlsError(`--${flag}=${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message} (accepted: a PEM file)`);
  }
}

function anyTLS(tls: TLSFiles): boolean {
  return Boolean(tls.cert || tls.key || tls.ca);
}

function checkPair(tls: TLSFiles): void {
  if (Boolean(tls.cert) !== Boolean(tls.key)) throw tlsError('--tls-cert and --tls-key go together (accepted: both, or neither)');
}

function checkTransport(a: ApiAddress, tls: TLSFiles): void {
  if (a.kind === 'unix' && anyTLS(tls)) {
    throw tlsError(`TLS applies to tcp:// addresses only; ${formatApiAddress(a)} is protected by its file mode (accepted: drop --tls-*, or use tcp://host:port)`);
  }
}

/**
 * Server credentials: none without TLS files; with --tls-cert and --tls-key, TLS; with
 * --tls-ca as well, clients must present a certificate signed by that CA.
 */
export async function serverCredentials(a: ApiAddress, tls: TLSFiles): Promise<ServerCredentials> {
  checkTransport(a, tls);
  if (!anyTLS(tls)) return ServerCredentials.createInsecure();
  checkPair(tls);
  if (!tls.cert) throw tlsError('--tls-ca needs --tls-cert and --tls-key (the server certificate) as well');
  const [cert, key, ca] = await Promise.all([readPEM('tls-cert', tls.cert), readPEM('tls-key', tls.key!), tls.ca ? readPEM('tls-ca', tls.ca) : undefined]);
  try {
    return ServerCredentials.createSsl(ca ?? null, [{ cert_chain: cert, private_key: key }], ca !== undefined);
  } catch (e) {
    throw tlsError(`the server certificate, key or CA cannot be used: ${(e as Error).message}`);
  }
}

/**
 * Channel credentials: none without TLS files; with --tls-ca, TLS that trusts that CA
 * (else the system's roots); with --tls-cert and --tls-key, a client certificate.
 */
export async function channelCredentials(a: ApiAddress, tls: TLSFiles): Promise<ChannelCredentials> {
  checkTransport(a, tls);
  if (!anyTLS(tls)) return ChannelCredentials.createInsecure();
  checkPair(tls);
  const [ca, cert, key] = await Promise.all([
    tls.ca ? readPEM('tls-ca', tls.ca) : undefined,
    tls.cert ? readPEM('tls-cert', tls.cert) : undefined,
    tls.key ? readPEM('tls-key', tls.key) : undefined,
  ]);
  try {
    return ChannelCredentials.createSsl(ca ?? null, key ?? null, cert ?? null);
  } catch (e) {
    throw tlsError(`the client certificate, key or CA cannot be used: ${(e as Error).message}`);
  }
}
