// Where the node-local API listens or is reached (unix:///path or tcp://host:port), and
// its TLS: server certificates, and client certificates when a CA is given (mutual TLS).
import { readFile } from 'node:fs/promises';
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { ApiError } from './errors.ts';

export { parseApiAddress, formatApiAddress, grpcTarget, type ApiAddress } from './address.ts';
import { formatApiAddress, type ApiAddress } from './address.ts';

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
