// A TCP frontend's listening socket: each accepted connection goes to the endpoint the pool
// picks (the next one when a connect fails), and the two sockets are piped both ways.
// pipe() pauses the reading side while the writing side holds more than highWaterMark
// bytes, so a slow reader never makes the proxy buffer without bound; half-closes pass
// through (allowHalfOpen).
import net from 'node:net';
import type { IPFamily } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Pool } from './pool.ts';
import { targetKey } from './round-robin.ts';

export interface ListenerOptions {
  family: IPFamily;
  pool: Pool;
  logger: Logger;
  /** Bytes each socket buffers before its peer is paused. */
  highWaterMark: number;
  /** How long one connect to an endpoint may take before the next endpoint is tried. */
  connectTimeoutMs: number;
}

export const wildcard = (family: IPFamily): string => (family === 'IPv6' ? '::' : '0.0.0.0');

export class TcpListener {
  readonly protocol = 'TCP';
  readonly #server: net.Server;
  readonly #o: ListenerOptions;
  #port = 0;

  private constructor(o: ListenerOptions) {
    this.#o = o;
    this.#server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, highWaterMark: o.highWaterMark, noDelay: true }, (c) => this.#accepted(c));
    this.#server.on('error', (err) => o.logger.warn('listener error', { pool: o.pool.name, err }));
  }

  /** Listens on a port the kernel picks, on every address of the family. */
  static async open(o: ListenerOptions): Promise<TcpListener> {
    const l = new TcpListener(o);
    await new Promise<void>((resolve, reject) => {
      l.#server.once('error', reject);
      l.#server.listen({ host: wildcard(o.family), port: 0, ipv6Only: o.family === 'IPv6' }, () => {
        l.#server.off('error', reject);
        resolve();
      });
    });
    l.#port = (l.#server.address() as net.AddressInfo).port;
    return l;
  }

  get port(): number {
    return this.#port;
  }

  /**
   * Stops accepting at once; what is open stays (the pool tracks it). Does not wait for the
   * open connections (the server's own close callback would): the pool decides their end.
   */
  close(): Promise<void> {
    this.#server.close();
    return Promise.resolve();
  }

  #accepted(client: net.Socket): void {
    const clientIP = client.remoteAddress ?? '';
    const tried = new Set<string>();
    client.on('error', () => client.destroy());
    const attempt = (): void => {
      if (client.destroyed) return;
      const target = this.#o.pool.rr.pick(clientIP, tried);
      if (!target) {
        // Nothing (left) to send it to: reset, as a refused connection would be.
        client.resetAndDestroy();
        return;
      }
      const key = targetKey(target);
      tried.add(key);
      // highWaterMark reaches the socket's stream (net.Socket hands its options to Duplex); the connect options' type omits it.
      const upstream = net.connect({ host: target.address, port: target.port, allowHalfOpen: true, noDelay: true, highWaterMark: this.#o.highWaterMark } as net.NetConnectOpts);
      const forget = this.#o.pool.open.add(key, () => {
        client.destroy();
        upstream.destroy();
      });
      let connected = false;
      const timer = setTimeout(() => upstream.destroy(new Error(`connect timed out after ${this.#o.connectTimeoutMs} ms`)), this.#o.connectTimeoutMs);
      const abandon = () => upstream.destroy();
      client.once('close', abandon);
      upstream.on('error', (err) => {
        if (connected || client.destroyed) return;
        this.#o.logger.debug('connect to endpoint failed; trying the next', { pool: this.#o.pool.name, endpoint: key, err: err.message });
        clearTimeout(timer);
        client.off('close', abandon);
        forget();
        attempt();
      });
      upstream.once('close', () => {
        clearTimeout(timer);
        if (!connected && client.destroyed) forget();
      });
      upstream.once('connect', () => {
        connected = true;
        clearTimeout(timer);
        client.off('close', abandon);
        const done = () => {
          client.destroy();
          upstream.destroy();
          forget();
        };
        client.once('close', done);
        upstream.once('close', done);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt();
  }
}
