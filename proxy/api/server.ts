// The gRPC server of the node-local API: the Sets service, server reflection, and the
// listening socket (a unix socket of mode 0600, or TCP with optional mutual TLS).
import { lstat, mkdir, mkdtemp, rename, rm, stat, unlink, chmod } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { Server, type ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from '../runtime/log.ts';
import { ApiError } from './errors.ts';
import { localv1, packageDefinition, type SetsHandlers } from './proto.ts';
import { formatApiAddress, grpcTarget, serverCredentials, type ApiAddress, type TLSFiles } from './transport.ts';

export interface ApiServerOptions {
  listen: ApiAddress;
  tls?: TLSFiles;
  handlers: SetsHandlers;
  logger: Logger;
  /** Ping clients this often and drop those that do not answer (default 30s, 10s). */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
}

function listenError(a: ApiAddress, why: string): ApiError {
  return new ApiError('KPNG_ERR_API_LISTEN', `cannot listen on ${formatApiAddress(a)}: ${why}`);
}

/** Whether a server answers on the unix socket at `p`. */
function socketAnswers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(p);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Make room for the socket: create its folder; remove a stale socket; refuse a live one or a non-socket. */
async function prepareSocketPath(a: ApiAddress & { kind: 'unix' }): Promise<void> {
  const st = await lstat(a.path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw listenError(a, e.message);
  });
  if (!st) {
    await mkdir(path.dirname(a.path), { recursive: true });
    return;
  }
  if (!st.isSocket()) throw listenError(a, `${a.path} exists and is not a socket (accepted: a free path, or a stale socket, which is replaced)`);
  if (await socketAnswers(a.path)) throw listenError(a, `another server answers on ${a.path}`);
  await unlink(a.path);
}

function bind(server: Server, target: string, creds: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(target, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

export class ApiServer {
  /** Where it listens (a TCP port 0 resolved to the real port). */
  readonly address: ApiAddress;
  private readonly server: Server;
  private readonly socketIno: number | undefined;

  private constructor(server: Server, address: ApiAddress, socketIno: number | undefined) {
    this.server = server;
    this.address = address;
    this.socketIno = socketIno;
  }

  static async start(opts: ApiServerOptions): Promise<ApiServer> {
    const { listen } = opts;
    const creds = await serverCredentials(listen, opts.tls ?? {});
    const server = new Server({
      'grpc.keepalive_time_ms': opts.keepaliveMs ?? 30_000,
      'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs ?? 10_000,
    });
    server.addService(localv1().Sets.service, opts.handlers);
    new ReflectionService(packageDefinition()).addToServer(server);
    try {
      if (listen.kind === 'tcp') {
        const port = await bind(server, grpcTarget(listen), creds).catch((e: Error) => {
          throw listenError(listen, e.message);
        });
        const address: ApiAddress = { ...listen, port };
        opts.logger.info('node-local API listening', { address: formatApiAddress(address), tls: Boolean(opts.tls?.cert), mtls: Boolean(opts.tls?.ca) });
        return new ApiServer(server, address, undefined);
      }
      await prepareSocketPath(listen);
      // Bind in a private folder, restrict the socket to its owner, then move it into
      // place: nobody can connect while it is still open to others.
      const dir = await mkdtemp(path.join(path.dirname(listen.path), '.kpng-api-'));
      try {
        const tmp = path.join(dir, 's');
        await bind(server, `unix://${tmp}`, creds).catch((e: Error) => {
          throw listenError(listen, e.message);
        });
        await chmod(tmp, 0o600);
        await rename(tmp, listen.path);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const ino = (await stat(listen.path)).ino;
      opts.logger.info('node-local API listening', { address: formatApiAddress(listen), mode: '0600' });
      return new ApiServer(server, listen, ino);
    } catch (e) {
      server.forceShutdown();
      throw e;
    }
  }

  /** Stop: let calls finish for up to `graceMs` (callers end their streams first), then cut them; remove the socket. */
  async stop(graceMs = 1000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.address.kind === 'unix' && this.socketIno !== undefined) {
      const st = await stat(this.address.path).catch(() => undefined);
      if (st?.ino === this.socketIno) await unlink(this.address.path).catch(() => undefined);
    }
  }
}
