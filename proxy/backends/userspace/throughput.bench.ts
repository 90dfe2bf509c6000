// npm run bench:userspace — what carrying the traffic in the proxy's own sockets costs:
// 1 KiB request/response over long-lived connections (requests per second, p50/p99
// latency) and new connections per second (connect, 1 KiB each way, close), from a pod
// to another pod of the same node directly, and through a ClusterIP served by
// `kpng ... to-userspace` (the real program, in the node's namespace of a netns lab it
// creates and removes).
//
//   BENCH_SECONDS=5  BENCH_CONCURRENCY=1,8  npm run bench:userspace
//
// Needs root. The same file is the load generator and the 1 KiB responder inside the
// pods (--role=client, --role=server), so nothing else is installed.
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const messageBytes = 1024;
const serverPort = 9000;

/** The responder: for every 1 KiB received, 1 KiB back. */
function serve(): void {
  const reply = Buffer.alloc(messageBytes, 0x62);
  net
    .createServer({ noDelay: true }, (socket) => {
      let pending = 0;
      socket.on('data', (chunk) => {
        pending += chunk.length;
        while (pending >= messageBytes) {
          pending -= messageBytes;
          socket.write(reply);
        }
      });
      socket.on('error', () => socket.destroy());
    })
    .listen({ port: serverPort, host: '::' }, () => process.stdout.write('{"listening":true}\n'));
}

interface LoadResult {
  operations: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** One exchange on `socket`: 1 KiB out, resolves once 1 KiB came back. */
function exchange(socket: net.Socket, request: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (chunk: Buffer) => {
      got += chunk.length;
      if (got < messageBytes) return;
      socket.off('data', onData);
      socket.off('error', reject);
      resolve();
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(request);
  });
}

const connect = (host: string, port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });

/** The load generator: `concurrency` workers for `seconds`, each a loop of exchanges (rr) or of whole connections (cps). */
async function load(host: string, port: number, mode: 'rr' | 'cps', concurrency: number, seconds: number): Promise<LoadResult> {
  const request = Buffer.alloc(messageBytes, 0x61);
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    if (mode === 'rr') {
      const socket = await connect(host, port);
      while (performance.now() < deadline) {
        const t = performance.now();
        await exchange(socket, request);
        latencies.push(performance.now() - t);
      }
      socket.destroy();
    } else {
      while (performance.now() < deadline) {
        const t = performance.now();
        const socket = await connect(host, port);
        await exchange(socket, request);
        socket.destroy();
        latencies.push(performance.now() - t);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { operations: latencies.length, seconds: elapsed, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99) };
}

async function orchestrate(): Promise<void> {
  const { createTopology, projectNode, programEnv, planAddress } = await import('../../../harness/lab/netns/index.ts');
  const { ProxyUnderTest } = await import('../conformance/proxy-under-test.testkit.ts');
  const { SnapshotFile } = await import('../conformance/snapshot.ts');
  const { dataplaneFor } = await import('../conformance/dataplanes.testkit.ts');
  const { node, service, slice } = await import('../../model/testing.ts');
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const concurrencies = (process.env.BENCH_CONCURRENCY ?? '1,8').split(',').map(Number);
  const self = fileURLToPath(import.meta.url);

  const t = await createTopology({ family: 'ipv4', nodes: ['node-1'], pods: [{ name: 'server', node: 'node-1' }, { name: 'load', node: 'node-1' }], clients: [] });
  const snapshot = await SnapshotFile.create();
  try {
    // Thousands of short connections a second leave as many in TIME_WAIT: let the connecting
    // sides (the load pod, and the node where the proxy connects to the endpoint) reuse them,
    // so that the connection rows measure connecting, not a search for a free port.
    for (const ns of [t.pod('load'), t.node('node-1')]) {
      await ns.exec('sysctl', ['-q', '-w', 'net.ipv4.tcp_tw_reuse=1']);
      await ns.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_local_port_range=1024 65000']);
    }
    const server = t.pod('server');
    const responder = server.spawn(projectNode(), ['--disable-warning=ExperimentalWarning', self, '--role=server'], { env: programEnv() });
    await responder.waitForOutput(/"listening":true/, 15_000);
    const clusterIP = planAddress(t.plan.service.ipv4, 10);
    const objects = [
      node('node-1', { addresses: t.node('node-1').ips }),
      service('echo', { namespace: 'bench', clusterIPs: [clusterIP], ports: [{ name: 'tcp', port: 80, targetPort: serverPort }] }),
      slice('echo', 'echo', [{ ip: server.ip('ipv4'), node: 'node-1', pod: 'server' }], { namespace: 'bench', ports: [{ name: 'tcp', port: serverPort }] }),
    ];
    const since = await snapshot.write(objects);
    const proxy = ProxyUnderTest.start({ topology: t, node: t.node('node-1'), dataplane: dataplaneFor('userspace-nft'), input: snapshot.path, syncPeriod: '30s' });
    await proxy.waitForSync(since);

    const run = async (host: string, port: number, mode: 'rr' | 'cps', concurrency: number): Promise<LoadResult> => {
      const p = t.pod('load').spawn(projectNode(), ['--disable-warning=ExperimentalWarning', self, '--role=client', host, String(port), mode, String(concurrency), String(seconds)], { env: programEnv() });
      const [line] = await p.waitForOutput(/^\{"operations".*\}$/m, (seconds + 30) * 1000);
      return JSON.parse(line) as LoadResult;
    };
    const rows: string[][] = [];
    const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
    for (const mode of ['rr', 'cps'] as const) {
      for (const c of concurrencies) {
        const direct = await run(server.ip('ipv4'), serverPort, mode, c);
        const proxied = await run(clusterIP, 80, mode, c);
        for (const [path, r] of [['direct', direct], ['to-userspace', proxied]] as const) {
          const rate = r.operations / r.seconds;
          rows.push([
            mode === 'rr' ? '1 KiB request/response' : 'connections (1 KiB each way)',
            String(c),
            path,
            `${fmt(rate)}/s`,
            mode === 'rr' ? `${fmt((rate * 2 * messageBytes) / 1e6, 1)} MB/s` : '',
            fmt(r.p50Ms, 3),
            fmt(r.p99Ms, 3),
            path === 'direct' ? '' : `${fmt((proxied.operations / proxied.seconds / (direct.operations / direct.seconds)) * 100)} %`,
          ]);
        }
      }
    }
    const header = ['workload', 'concurrency', 'path', 'rate', 'bytes (both ways)', 'p50 ms', 'p99 ms', 'of direct'];
    console.log(`\nbench:userspace — ${seconds} s per row, one node, pods on it, IPv4\n`);
    console.log(`| ${header.join(' | ')} |\n|${header.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`);
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    await proxy.process.stop();
  } finally {
    await snapshot.remove();
    await t.destroy();
  }
}

const role = process.argv.find((a) => a.startsWith('--role='))?.slice('--role='.length);
if (role === 'server') serve();
else if (role === 'client') {
  const [host, port, mode, concurrency, seconds] = process.argv.slice(process.argv.indexOf('--role=client') + 1);
  const r = await load(host!, Number(port), mode as 'rr' | 'cps', Number(concurrency), Number(seconds));
  process.stdout.write(`${JSON.stringify(r)}\n`);
} else await orchestrate();
