// The UDP sessions of one listening socket: a client's address and port → the socket
// towards the endpoint chosen for its first datagram, kept while datagrams flow either
// way and closed after --udp-timeout of silence (kube-proxy's userspace udpTimeout).
// Pure: the clock is injected and closing is the session's own callback.

export interface Session {
  /** The endpoint's key (round-robin.ts targetKey). */
  readonly target: string;
  close(): void;
}

export class SessionTable<S extends Session> {
  readonly #sessions = new Map<string, { session: S; lastActive: number }>();
  readonly #idleMs: number;
  readonly #now: () => number;

  constructor(o: { idleMs: number; now?: () => number }) {
    this.#idleMs = o.idleMs;
    this.#now = o.now ?? Date.now;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** The live session of a client, marked active. */
  get(client: string): S | undefined {
    const e = this.#sessions.get(client);
    if (!e) return undefined;
    e.lastActive = this.#now();
    return e.session;
  }

  add(client: string, session: S): void {
    this.#sessions.set(client, { session, lastActive: this.#now() });
  }

  /** Marks a client's session active (a reply came back). */
  touch(client: string): void {
    const e = this.#sessions.get(client);
    if (e) e.lastActive = this.#now();
  }

  /** Forgets a session without closing it (it closed itself). */
  delete(client: string, session: S): void {
    if (this.#sessions.get(client)?.session === session) this.#sessions.delete(client);
  }

  /** Closes the sessions idle for longer than the timeout; returns how many. */
  sweep(): number {
    const now = this.#now();
    let n = 0;
    for (const [client, e] of this.#sessions) {
      if (now - e.lastActive <= this.#idleMs) continue;
      this.#sessions.delete(client);
      e.session.close();
      n++;
    }
    return n;
  }

  closeAll(): void {
    for (const e of this.#sessions.values()) e.session.close();
    this.#sessions.clear();
  }
}
