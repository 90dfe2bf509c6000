// The netns test door for traffic from other hosts: three namespaces of the test's own
// (the node, a client host on a veth link, a remote host on another one holding the
// endpoints of other nodes), echo servers that answer with their own address and the
// peer's, and probes from the client host or from a process of the node inside a cgroup
// of the test. The remote host has no route to the client: only masqueraded traffic gets
// an answer from there. destroy() removes everything, also after a failed test.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { cgroup2Root } from './kernel.ts';
import { removeTestCgroup } from './sock-lab.testkit.ts';

export const addr = {
  node4: '192.168.60.1',
  node6: 'fd00:60::1',
  client4: '192.168.60.2',
  client6: 'fd00:60::2',
  nodeToRemote4: '192.168.61.1',
  nodeToRemote6: 'fd00:61::1',
  remote4: '192.168.61.2',
  remote6: 'fd00:61::2',
  /** Endpoints of this node (on the node's lo) and of another node (on the remote host's lo). */
  local4: '10.99.1.1',
  local6: 'fd00:99:1::1',
  other4: ['10.99.2.1', '10.99.2.2'],
  other6: ['fd00:99:2::1', 'fd00:99:2::2'],
};

// Serves tcp:ADDR:PORT and udp:ADDR:PORT: answers "ADDR#PORT PEER" (PEER: the source address it saw).
const serverScript = `
const net = require('node:net'), dgram = require('node:dgram');
let pending = 0;
for (const spec of process.argv.slice(1)) {
  const [proto, rest] = [spec.slice(0, 3), spec.slice(4)];
  const i = rest.lastIndexOf(':'); const a = rest.slice(0, i), port = Number(rest.slice(i + 1));
  const id = a + '#' + port; pending++;
  const ready = () => { if (--pending === 0) console.log('ready'); };
  if (proto === 'tcp') net.createServer((c) => c.end(id + ' ' + c.remoteAddress)).listen(port, a, ready);
  else { const s = dgram.createSocket(a.includes(':') ? 'udp6' : 'udp4'); s.on('message', (m, r) => s.send(id + ' ' + r.address, r.port, r.address)); s.bind(port, a, ready); }
}`;

// One probe: tcp|udp|udpc HOST PORT WAIT_MS (udpc: a connected UDP socket, which hears ICMP errors). Prints JSON.
const clientScript = `
const net = require('node:net'), dgram = require('node:dgram');
const [mode, host, port, wait] = process.argv.slice(1);
const done = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
setTimeout(() => done({ error: 'timeout' }), Number(wait));
if (mode === 'tcp') {
  const c = net.connect(Number(port), host); let data = '';
  c.on('data', (d) => (data += d)); c.on('end', () => done({ data }));
  c.on('error', (e) => done({ error: e.code }));
} else {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  s.on('error', (e) => done({ error: e.code }));
  s.on('message', (m, r) => done({ data: String(m), from: r.address, fromPort: r.port }));
  if (mode === 'udpc') s.connect(Number(port), host, () => s.send('hi', (e) => e && done({ error: e.code })));
  else s.send('hi', Number(port), host, (e) => e && done({ error: e.code }));
}`;

export interface Probe {
  data?: string;
  error?: string;
  from?: string;
  fromPort?: number;
}

export class ExternalLab {
  private readonly id = randomBytes(3).toString('hex');
  readonly node = `kpng-ebpfx-n-${this.id}`;
  readonly client = `kpng-ebpfx-c-${this.id}`;
  readonly remote = `kpng-ebpfx-r-${this.id}`;
  readonly pinPath = `/sys/fs/bpf/kpng-ebpfx-${this.id}`;
  cgroup = '';
  private servers: ChildProcess[] = [];

  async create(): Promise<void> {
    this.cgroup = `${await cgroup2Root()}/kpng-ebpfx-${this.id}`;
    mkdirSync(this.cgroup);
    for (const ns of [this.node, this.client, this.remote]) {
      execFileSync('ip', ['netns', 'add', ns]);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const ip = (ns: string, ...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
    const link = (peer: string, mine: string, theirs: string, a4: [string, string], a6: [string, string]) => {
      ip(this.node, 'link', 'add', mine, 'type', 'veth', 'peer', 'name', theirs, 'netns', peer);
      ip(this.node, 'addr', 'add', `${a4[0]}/24`, 'dev', mine);
      ip(this.node, 'addr', 'add', `${a6[0]}/64`, 'dev', mine, 'nodad');
      ip(peer, 'addr', 'add', `${a4[1]}/24`, 'dev', theirs);
      ip(peer, 'addr', 'add', `${a6[1]}/64`, 'dev', theirs, 'nodad');
      ip(this.node, 'link', 'set', mine, 'up');
      ip(peer, 'link', 'set', theirs, 'up');
    };
    link(this.client, 'toclient', 'eth0', [addr.node4, addr.client4], [addr.node6, addr.client6]);
    link(this.remote, 'toremote', 'eth0', [addr.nodeToRemote4, addr.remote4], [addr.nodeToRemote6, addr.remote6]);
    ip(this.node, 'addr', 'add', `${addr.local4}/32`, 'dev', 'lo');
    ip(this.node, 'addr', 'add', `${addr.local6}/128`, 'dev', 'lo', 'nodad');
    for (const a of addr.other4) ip(this.remote, 'addr', 'add', `${a}/32`, 'dev', 'lo');
    for (const a of addr.other6) ip(this.remote, 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad');
    // The node routes to the other node's endpoints and (for LB and external IPs) to the client side.
    for (const a of addr.other4) ip(this.node, 'route', 'add', `${a}/32`, 'via', addr.remote4);
    for (const a of addr.other6) ip(this.node, 'route', 'add', `${a}/128`, 'via', addr.remote6);
    ip(this.node, 'route', 'add', 'default', 'via', addr.client4);
    ip(this.node, '-6', 'route', 'add', 'default', 'via', addr.client6);
    ip(this.client, 'route', 'add', 'default', 'via', addr.node4);
    ip(this.client, '-6', 'route', 'add', 'default', 'via', addr.node6);
    execFileSync('ip', ['netns', 'exec', this.node, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  }

  /** Servers in a namespace of the lab (node or remote), resolved when all listen. */
  async serve(ns: string, specs: string[]): Promise<void> {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', serverScript, ...specs], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.servers.push(p);
    await new Promise<void>((resolve, reject) => {
      p.stdout!.on('data', (d: Buffer) => String(d).includes('ready') && resolve());
      p.on('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  }

  /** A probe from the client host. */
  fromClient(mode: 'tcp' | 'udp' | 'udpc', host: string, port: number, waitMs = 3000): Probe {
    return this.run(['ip', 'netns', 'exec', this.client, process.execPath, '-e', clientScript, mode, host, String(port), String(waitMs)]);
  }

  /** A probe from a process of the node in the test's cgroup (where the socket hooks apply). */
  fromNode(mode: 'tcp' | 'udp' | 'udpc', host: string, port: number, waitMs = 3000): Probe {
    return this.run(['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', this.cgroup, 'ip', 'netns', 'exec', this.node, process.execPath, '-e', clientScript, mode, host, String(port), String(waitMs)]);
  }

  private run(argv: string[]): Probe {
    const out = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!) as Probe;
  }

  /** `nft ARGS` in the node's namespace: exit code and output. */
  nft(...args: string[]): { ok: boolean; out: string } {
    try {
      return { ok: true, out: execFileSync('ip', ['netns', 'exec', this.node, 'nft', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
    } catch (e) {
      return { ok: false, out: String((e as { stderr?: unknown }).stderr ?? e) };
    }
  }

  destroy(): void {
    for (const s of this.servers) s.kill('SIGKILL');
    for (const ns of [this.node, this.client, this.remote]) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // not made, or already gone
      }
    }
    removeTestCgroup(this.cgroup, this.pinPath);
  }
}
