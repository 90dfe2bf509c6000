// The eBPF backend's netns test door: a namespace of the test's own with endpoint
// addresses and TCP/UDP servers, a cgroup of the test's own under the cgroup2 mount (so no
// cgroup of the host is ever hooked), clients started inside that cgroup, and the built
// program. Everything it makes is removed by destroy(), also after a failed test.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cgroup2Root } from './kernel.ts';

/** Builds the program (cached by content) and returns its path. */
export function builtObject(): string {
  const script = fileURLToPath(new URL('../../../hack/build-bpf.sh', import.meta.url));
  const out = execFileSync(script, ['/tmp/kpng-bpf-build'], { encoding: 'utf8' }).trim().split('\n');
  const path = out.find((l) => l.includes('/sock_lb-'));
  if (!path) throw new Error('hack/build-bpf.sh built no sock_lb object (clang, libbpf-dev missing?)');
  return path;
}

// Serves every address:port given (tcp:ADDR:PORT, udp:ADDR:PORT): TCP writes "ADDR#PORT"
// and closes; UDP answers each datagram with "ADDR#PORT".
const serverScript = `
const net = require('node:net'), dgram = require('node:dgram');
let pending = 0;
for (const spec of process.argv.slice(1)) {
  const [proto, rest] = [spec.slice(0, 3), spec.slice(4)];
  const i = rest.lastIndexOf(':'); const addr = rest.slice(0, i), port = Number(rest.slice(i + 1));
  const id = addr + '#' + port; pending++;
  const ready = () => { if (--pending === 0) console.log('ready'); };
  if (proto === 'tcp') net.createServer((c) => c.end(id)).listen(port, addr, ready);
  else { const s = dgram.createSocket(addr.includes(':') ? 'udp6' : 'udp4'); s.on('message', (m, r) => s.send(id, r.port, r.address)); s.bind(port, addr, ready); }
}`;

// One probe: tcp HOST PORT | udp HOST PORT | udpc HOST PORT (connected). Prints JSON.
const clientScript = `
const net = require('node:net'), dgram = require('node:dgram');
const [mode, host, port] = process.argv.slice(1);
const done = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
setTimeout(() => done({ error: 'timeout' }), 3000);
const t0 = Date.now();
if (mode === 'tcp') {
  const c = net.connect(Number(port), host); let data = '';
  c.on('data', (d) => (data += d)); c.on('end', () => done({ data }));
  c.on('error', (e) => done({ error: e.code, ms: Date.now() - t0 }));
} else {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  s.on('error', (e) => done({ error: e.code, ms: Date.now() - t0 }));
  s.on('message', (m, r) => done({ data: String(m), from: r.address, fromPort: r.port, peer: mode === 'udpc' ? s.remoteAddress() : undefined }));
  if (mode === 'udpc') s.connect(Number(port), host, () => s.send('hi', (e) => e && done({ error: e.code, ms: Date.now() - t0 })));
  else s.send('hi', Number(port), host, (e) => e && done({ error: e.code, ms: Date.now() - t0 }));
}`;

export interface ProbeResult {
  data?: string;
  error?: string;
  from?: string;
  fromPort?: number;
  peer?: { address: string; port: number };
  ms?: number;
}

export class SockLab {
  readonly ns = `kpng-ebpf-${randomBytes(3).toString('hex')}`;
  cgroup = '';
  readonly pinPath = `/sys/fs/bpf/${this.ns}`;
  private servers: ChildProcess[] = [];

  async create(endpointAddresses: string[]): Promise<void> {
    this.cgroup = `${await cgroup2Root()}/${this.ns}`;
    mkdirSync(this.cgroup);
    execFileSync('ip', ['netns', 'add', this.ns]);
    const ip = (...a: string[]) => execFileSync('ip', ['-n', this.ns, ...a]);
    ip('link', 'set', 'lo', 'up');
    for (const a of endpointAddresses) ip('addr', 'add', a.includes(':') ? `${a}/128` : `${a}/32`, 'dev', 'lo');
    // Service addresses route nowhere in the namespace: only the hooks can make them reachable.
  }

  /** Start servers for specs like "tcp:10.99.1.1:8080", resolved when all listen. */
  async serve(specs: string[]): Promise<void> {
    const p = spawn('ip', ['netns', 'exec', this.ns, process.execPath, '-e', serverScript, ...specs], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.servers.push(p);
    await new Promise<void>((resolve, reject) => {
      p.stdout!.on('data', (d: Buffer) => String(d).includes('ready') && resolve());
      p.on('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  }

  /** A probe from a process in the test's cgroup (inCgroup) or outside it. */
  async probe(mode: 'tcp' | 'udp' | 'udpc', host: string, port: number, inCgroup = true): Promise<ProbeResult> {
    // The process joins the cgroup first: `ip netns exec` remounts /sys, hiding the cgroup2 tree.
    const args = inCgroup
      ? ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', this.cgroup, 'ip', 'netns', 'exec', this.ns, process.execPath, '-e', clientScript, mode, host, String(port)]
      : ['-c', 'exec "$@"', 'sh', 'ip', 'netns', 'exec', this.ns, process.execPath, '-e', clientScript, mode, host, String(port)];
    const out = execFileSync('sh', args, { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!) as ProbeResult;
  }

  destroy(): void {
    for (const s of this.servers) s.kill('SIGKILL');
    try {
      execFileSync('ip', ['netns', 'del', this.ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    removeTestCgroup(this.cgroup, this.pinPath);
  }
}

/** Removes a test's cgroup (killing what is still in it) and its pin folder; whatever is already gone is fine. */
export function removeTestCgroup(cgroup: string, pinPath: string): void {
  if (cgroup) {
    try {
      rmdirSync(cgroup);
    } catch {
      // not made, or a process still in it: kill them first
      try {
        writeFileSync(`${cgroup}/cgroup.kill`, '1');
        rmdirSync(cgroup);
      } catch {
        // gone
      }
    }
  }
  rmSync(pinPath, { recursive: true, force: true });
}
