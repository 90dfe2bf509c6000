// The listeners on loopback, real sockets, no rules: what a connection redirected into a
// listener meets. Backpressure, endpoint changes, failover, UDP sessions, and the
// backend's drain on stop.
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeView } from '../../model/index.ts';
import { memoryLogger } from '../../runtime/log.ts';
import { fixtureState } from '../common/testing.ts';
import type { RunResult } from '../common/index.ts';
import { UserspaceBackend } from './backend.ts';
import { Pool } from './pool.ts';
import { TcpListener } from './tcp-listener.ts';
import { UdpListener } from './udp-listener.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP server on loopback; `onSocket` gets each connection. */
async function server(onSocket: (s: net.Socket) => void): Promise<{ port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const srv = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    onSocket(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => srv.close(r));
  });
  return { port: (srv.address() as net.AddressInfo).port, sockets };
}

/** Answers each connection with its own name. */
const naming = (name: string) => server((s) => s.end(name));

async function listener(pool: Pool, highWaterMark = 16 * 1024): Promise<TcpListener> {
  const l = await TcpListener.open({ family: 'IPv4', pool, logger: memoryLogger(), highWaterMark, connectTimeoutMs: 1000 });
  cleanups.push(() => l.close());
  return l;
}

async function fetchName(port: number): Promise<string> {
  const c = net.connect(port, '127.0.0.1');
  let text = '';
  c.on('data', (d: Buffer) => (text += d.toString()));
  await once(c, 'close');
  return text;
}

describe('TcpListener', () => {
  it('balances connections over the pool and sends the next one to a new set at once', async () => {
    const [a, b, c] = await Promise.all([naming('a'), naming('b'), naming('c')]);
    const pool = new Pool('p');
    pool.update([{ address: '127.0.0.1', port: a.port }, { address: '127.0.0.1', port: b.port }], undefined);
    const l = await listener(pool);
    expect([await fetchName(l.port), await fetchName(l.port), await fetchName(l.port)].sort()).toEqual(['a', 'a', 'b']);
    pool.update([{ address: '127.0.0.1', port: c.port }], undefined);
    expect(await fetchName(l.port)).toBe('c');
  });

  it('closes an established connection whose endpoint left the set; the others stay', async () => {
    const [a, b] = await Promise.all([server(() => undefined), server(() => undefined)]);
    const ea = { address: '127.0.0.1', port: a.port };
    const eb = { address: '127.0.0.1', port: b.port };
    const pool = new Pool('p');
    pool.update([ea, eb], undefined);
    const l = await listener(pool);
    const toA = net.connect(l.port, '127.0.0.1');
    const toB = net.connect(l.port, '127.0.0.1');
    toA.on('error', () => undefined);
    while (pool.open.size < 2 || a.sockets.length + b.sockets.length < 2) await sleep(5);
    const closed = { a: false, b: false };
    toA.on('close', () => (closed.a = true));
    toB.on('close', () => (closed.b = true));
    // Whichever client went to a is the one closed.
    const first = a.sockets.length === 1 ? 'a' : 'b';
    expect(pool.update([first === 'a' ? eb : ea], undefined)).toBe(1);
    await sleep(50);
    expect(closed).toEqual({ a: first === 'a', b: first === 'b' });
    expect(pool.open.size).toBe(1);
    toA.destroy();
    toB.destroy();
  });

  it('tries the next endpoint when a connect fails; resets the client when none is left or the set is empty', async () => {
    const live = await naming('live');
    const dead = await server(() => undefined);
    const deadPort = dead.port;
    await cleanups.pop()!(); // now nothing listens on deadPort: refused
    const pool = new Pool('p');
    pool.update([{ address: '127.0.0.1', port: deadPort }, { address: '127.0.0.1', port: live.port }], undefined);
    const l = await listener(pool);
    for (let i = 0; i < 4; i++) expect(await fetchName(l.port)).toBe('live');
    pool.update([{ address: '127.0.0.1', port: deadPort }], undefined);
    const c = net.connect(l.port, '127.0.0.1');
    const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    expect(pool.open.size).toBe(0);
  });

  it('backpressure: a client that never reads stops the endpoint being read; the writes of the endpoint stall, and resume once the client reads', async () => {
    const highWaterMark = 16 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    let written = 0;
    let stalled = false;
    // The endpoint writes as fast as it is let, counting what the socket took.
    const upstream = await server((s) => {
      const pump = () => {
        while (s.write(chunk)) written += chunk.length;
        written += chunk.length;
      };
      s.on('drain', pump);
      pump();
    });
    const pool = new Pool('p');
    pool.update([{ address: '127.0.0.1', port: upstream.port }], undefined);
    const l = await listener(pool, highWaterMark);
    const c = net.connect(l.port, '127.0.0.1');
    c.pause();
    await once(c, 'connect');
    // Written stops growing once kernel buffers and the proxy's bounded buffers are full.
    let last = -1;
    for (let i = 0; i < 100 && !stalled; i++) {
      await sleep(50);
      stalled = written === last && written > 0;
      last = written;
    }
    expect(stalled).toBe(true);
    // Everything the endpoint wrote is either in kernel buffers (loopback autotunes to a few MB) or in the proxy, never unbounded.
    expect(written).toBeLessThan(64 * 1024 * 1024);
    // Reading resumes the flow: more gets written.
    const before = written;
    c.resume();
    for (let i = 0; i < 100 && written === before; i++) await sleep(50);
    expect(written).toBeGreaterThan(before);
    c.destroy();
  });
});

describe('UdpListener', () => {
  async function udpEcho(name: string): Promise<{ port: number; peers: Set<string> }> {
    const s = dgram.createSocket('udp4');
    const peers = new Set<string>();
    s.on('message', (msg, r) => {
      peers.add(`${r.address}#${r.port}`);
      s.send(`${name}:${msg.toString()}`, r.port, r.address);
    });
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
    return { port: s.address().port, peers };
  }

  async function client(): Promise<{ ask(port: number, text: string): Promise<string> }> {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
    return {
      ask: async (port, text) => {
        const reply = once(s, 'message');
        s.send(text, port, '127.0.0.1');
        const [msg, from] = (await reply) as [Buffer, dgram.RemoteInfo];
        expect(from.port).toBe(port); // the answer comes from the listener
        return msg.toString();
      },
    };
  }

  it('keeps a client on its endpoint while it talks, closes the session after the idle timeout, and moves it when its endpoint leaves', async () => {
    const [a, b] = await Promise.all([udpEcho('a'), udpEcho('b')]);
    const pool = new Pool('p');
    pool.update([{ address: '127.0.0.1', port: a.port }, { address: '127.0.0.1', port: b.port }], undefined);
    const l = await UdpListener.open({ family: 'IPv4', pool, logger: memoryLogger(), idleMs: 200 });
    cleanups.push(() => l.close());
    const c = await client();
    const first = (await c.ask(l.port, 'q1')).split(':')[0]!;
    for (let i = 0; i < 3; i++) expect(await c.ask(l.port, `q${i}`)).toMatch(new RegExp(`^${first}:`));
    expect(l.sessions).toBe(1);
    const c2 = await client();
    expect((await c2.ask(l.port, 'x')).split(':')[0]).not.toBe(first);
    await sleep(500);
    expect(l.sessions).toBe(0);
    expect(pool.open.size).toBe(0);
    // The endpoint in use leaves: the session is closed at once and the next datagram goes to the other.
    const now = (await c.ask(l.port, 'again')).split(':')[0]!;
    const other = now === 'a' ? b : a;
    pool.update([{ address: '127.0.0.1', port: other.port }], undefined);
    expect(l.sessions).toBe(0);
    expect((await c.ask(l.port, 'moved')).split(':')[0]).toBe(now === 'a' ? 'b' : 'a');
  });
});

describe('UserspaceBackend.stop', () => {
  it('stops accepting at once, lets an established connection finish, and resolves when it has', async () => {
    const upstream = await server((s) => s.on('data', (d) => s.write(d)));
    const objects = (await import('../common/testing.ts')).fixtureObjects();
    const state = fixtureState(objects);
    // Point svc1's IPv4 endpoints at the loopback server: a state whose endpoint is here.
    const sp = state.servicePorts.get('ns1/svc1:p80')!;
    const local = { ...sp.clusterEndpoints[0]!, address: '127.0.0.1', port: upstream.port };
    const patched = { ...sp, clusterEndpoints: [local], internalEndpoints: [local] };
    const only = { ...state, servicePorts: new Map([[sp.key, patched]]) };
    const ran: string[] = [];
    const backend = new UserspaceBackend({
      logger: memoryLogger(),
      mode: 'nft',
      families: ['IPv4'],
      run: (file: string, args: readonly string[]): Promise<RunResult> => {
        ran.push([file, ...args].join(' '));
        return Promise.resolve({ exitCode: 0, stdout: '', stderr: '' });
      },
    });
    await backend.setup();
    await backend.sync(nodeView(only), undefined);
    expect(ran.some((r) => r.startsWith('iptables-nft-restore --noflush'))).toBe(true);
    const port = backend.portOf('ns1/svc1:p80|TCP|IPv4|cluster-ip|172.30.0.41')!;
    const c = net.connect(port, '127.0.0.1');
    await once(c, 'connect');
    c.write('one');
    await once(c, 'data');
    let stopped = false;
    const stopping = backend.stop(5_000).then(() => (stopped = true));
    await sleep(50);
    // New connections are refused; the established one still carries data.
    const refused = net.connect(port, '127.0.0.1');
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
    c.write('two');
    const [echoed] = (await once(c, 'data')) as [Buffer];
    expect(echoed.toString()).toBe('two');
    expect(stopped).toBe(false);
    c.end();
    await stopping;
    expect(backend.openConnections).toBe(0);
  });

  it('closes what is still open once the drain timeout passes', async () => {
    const upstream = await server(() => undefined);
    const state = fixtureState();
    const sp = state.servicePorts.get('ns1/svc1:p80')!;
    const local = { ...sp.clusterEndpoints[0]!, address: '127.0.0.1', port: upstream.port };
    const only = { ...state, servicePorts: new Map([[sp.key, { ...sp, clusterEndpoints: [local], internalEndpoints: [local] }]]) };
    const logger = memoryLogger();
    const backend = new UserspaceBackend({ logger, mode: 'nft', families: ['IPv4'], run: () => Promise.resolve({ exitCode: 0, stdout: '', stderr: '' }) });
    await backend.sync(nodeView(only), undefined);
    const c = net.connect(backend.portOf('ns1/svc1:p80|TCP|IPv4|cluster-ip|172.30.0.41')!, '127.0.0.1');
    await once(c, 'connect');
    while (backend.openConnections === 0) await sleep(5);
    c.resume();
    const closed = once(c, 'close');
    await backend.stop(200);
    await closed;
    expect(logger.lines.some((l) => l.msg.includes('drain timeout'))).toBe(true);
  });
});
