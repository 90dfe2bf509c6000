// What the runtime's HTTP servers share: bind addresses as kube-proxy spells them, listening
// or closing as promises, and node:http and node:https themselves.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { isIP } from '../model/index.ts';
import { RuntimeError, messageOf } from './errors.ts';

/**
 * node:http and node:https as the CommonJS modules they are. Imported as an ES module,
 * node:http gets a facade listing all its exports, and reading its lazy ones (WebSocket,
 * EventSource) loads Node's fetch implementation, undici: 25-35 ms of every start on a
 * 2-core machine, for nothing the proxy uses. Every value the proxy takes from either module
 * comes from here (types may still be imported from them: they are erased).
 */
export const http = process.getBuiltinModule('node:http');
export const https = process.getBuiltinModule('node:https');

export interface BindAddress {
  host: string;
  port: number;
}

function validPort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/**
 * A bind address flag: "IP:port", "[IPv6]:port", or a bare IP (then `defaultPort`).
 * "" disables the server (undefined). Port 0 asks the kernel for a free port.
 */
export function parseBindAddress(flag: string, text: string, defaultPort: number): BindAddress | undefined {
  const value = text.trim();
  if (value === '') return undefined;
  const bad = () =>
    new RuntimeError(
      'KPNG_ERR_BAD_BIND_ADDRESS',
      `--${flag}=${JSON.stringify(text)}: accepted: IP:port (e.g. 0.0.0.0:${defaultPort} or [::]:${defaultPort}), a bare IP (port ${defaultPort}), or "" to disable`,
    );
  if (isIP(value)) return { host: value, port: defaultPort };
  const bracketed = /^\[([^\]]+)\]:([^:]+)$/.exec(value);
  if (bracketed) {
    const port = validPort(bracketed[2]!);
    if (!isIP(bracketed[1]!) || !bracketed[1]!.includes(':') || port === undefined) throw bad();
    return { host: bracketed[1]!, port };
  }
  const colon = value.lastIndexOf(':');
  if (colon <= 0) throw bad();
  const host = value.slice(0, colon);
  const port = validPort(value.slice(colon + 1));
  if (host.includes(':') || !isIP(host) || port === undefined) throw bad();
  return { host, port };
}

/** "host:port", with brackets for IPv6. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Listen on host (undefined: every address, both families) and port; rejects with
 * KPNG_ERR_LISTEN. "0.0.0.0" also means every address of both families, as it does for
 * kube-proxy (Go listens on [::] with IPv4-mapped addresses for it): its default
 * --healthz-bind-address=0.0.0.0:10256 answers on a node's IPv6 addresses too. Where the
 * host has no IPv6, it is IPv4's wildcard alone.
 */
export async function listen(server: Server, what: string, host: string | undefined, port: number): Promise<AddressInfo> {
  if (host !== '0.0.0.0') return listenOn(server, what, host, port);
  try {
    return await listenOn(server, what, '::', port, host);
  } catch (err) {
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err;
    return listenOn(server, what, host, port);
  }
}

function listenOn(server: Server, what: string, host: string | undefined, port: number, asked = host): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      const where = asked === undefined ? `port ${port}` : formatHostPort(asked, port);
      reject(new RuntimeError('KPNG_ERR_LISTEN', `the ${what} server cannot listen on ${where}: ${messageOf(err)}`, { cause: err }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    if (host === undefined) server.listen(port);
    else server.listen(port, host);
  });
}

/** Close a server and every connection it holds, so it is gone at once. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
