// Where the node-local API listens or is reached: unix:///path or tcp://host:port. No gRPC
// here, so that the CLI can check --api and --listen when it parses them.
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
