// A UDP frontend's socket: a client's first datagram opens a session towards the endpoint
// the pool picks (a socket of its own), later ones follow it, replies go back to the
// client from the frontend's socket (so conntrack maps them back to the Service's
// address). A session ends after --udp-timeout without a datagram either way, or when its
// endpoint leaves the set. Nothing is buffered: a datagram the kernel cannot take is lost,
// as UDP allows.
import dgram from 'node:dgram';
import type { IPFamily } from '../../model/index.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Pool } from './pool.ts';
import { targetKey, type Target } from './round-robin.ts';
import { wildcard } from './tcp-listener.ts';
import { SessionTable, type Session } from './udp-sessions.ts';

export interface UdpListenerOptions {
  family: IPFamily;
  pool: Pool;
  logger: Logger;
  /** --udp-timeout. */
  idleMs: number;
}

const socketType = (family: IPFamily) => (family === 'IPv6' ? 'udp6' : 'udp4');

export class UdpListener {
  readonly protocol = 'UDP';
  readonly #socket: dgram.Socket;
  readonly #o: UdpListenerOptions;
  readonly #sessions: SessionTable<UdpSession>;
  readonly #sweeper: NodeJS.Timeout;
  #port = 0;
  #accepting = true;

  private constructor(o: UdpListenerOptions) {
    this.#o = o;
    this.#sessions = new SessionTable({ idleMs: o.idleMs });
    this.#socket = dgram.createSocket({ type: socketType(o.family), ipv6Only: o.family === 'IPv6' });
    this.#socket.on('message', (msg, rinfo) => this.#received(msg, rinfo));
    this.#socket.on('error', (err) => o.logger.warn('UDP listener error', { pool: o.pool.name, err }));
    this.#sweeper = setInterval(() => this.#sessions.sweep(), Math.max(25, Math.min(1000, o.idleMs / 2)));
    this.#sweeper.unref();
  }

  static async open(o: UdpListenerOptions): Promise<UdpListener> {
    const l = new UdpListener(o);
    await new Promise<void>((resolve, reject) => {
      l.#socket.once('error', reject);
      l.#socket.bind({ address: wildcard(o.family), port: 0 }, () => {
        l.#socket.off('error', reject);
        resolve();
      });
    });
    l.#port = l.#socket.address().port;
    return l;
  }

  get port(): number {
    return this.#port;
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** Takes no new session; the open ones keep going until they go idle or close() ends them. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Closes the socket and every session. */
  close(): Promise<void> {
    this.#accepting = false;
    clearInterval(this.#sweeper);
    this.#sessions.closeAll();
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #received(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const client = `${rinfo.address}#${rinfo.port}`;
    let session = this.#sessions.get(client);
    if (!session) {
      if (!this.#accepting) return;
      const target = this.#o.pool.rr.pick(rinfo.address);
      if (!target) return;
      session = new UdpSession(target, this.#o.family, (reply) => {
        this.#sessions.touch(client);
        this.#socket.send(reply, rinfo.port, rinfo.address);
      });
      const s = session;
      const forget = this.#o.pool.open.add(s.target, () => s.close());
      s.onClosed(() => {
        forget();
        this.#sessions.delete(client, s);
      });
      this.#sessions.add(client, s);
    }
    session.send(msg);
  }
}

class UdpSession implements Session {
  readonly target: string;
  readonly #to: Target;
  readonly #socket: dgram.Socket;
  #closed = false;
  #onClosed: Array<() => void> = [];

  constructor(to: Target, family: IPFamily, reply: (msg: Buffer) => void) {
    this.#to = to;
    this.target = targetKey(to);
    this.#socket = dgram.createSocket({ type: socketType(family), ipv6Only: family === 'IPv6' });
    this.#socket.on('message', (msg, from) => {
      if (from.address === to.address && from.port === to.port) reply(msg);
    });
    this.#socket.on('error', () => this.close());
  }

  onClosed(f: () => void): void {
    this.#onClosed.push(f);
  }

  send(msg: Buffer): void {
    if (!this.#closed) this.#socket.send(msg, this.#to.port, this.#to.address);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    for (const f of this.#onClosed.splice(0)) f();
  }
}
