// npm run bench:soak — memory under churn: the proxy as users run it (`kpng file ... to-local
// ... to-<backend>`, a process of its own) in a node namespace this benchmark creates, fed
// by a snapshot with N Services whose every endpoint changes every 0.5 s (the snapshot is
// rewritten, as `kubectl get -o json > file` would). Prints the proxy's RSS and V8 heap
// every 10 s, its CPU, the states and syncs it made, one sample 10 s after the churn
// stopped, and the growth; a leak shows as a line that keeps rising.
//
//   npm run bench:soak [-- --quick | --duration=5m] [--heap-snapshots]
//   BENCH_SERVICES=1000  BENCH_ENDPOINTS=2  BENCH_BACKEND=nft|iptables-nft|iptables-legacy
//   BENCH_DURATION=90s (the default; --quick: 20 s)  BENCH_INTERVAL=500ms
//   BENCH_PROXY_LOG=debug (the proxy's log level, its lines copied to standard error; default: warn, not shown)
//
// "heap used" is what V8 reports at that moment, garbage not yet collected included.
// --heap-snapshots: the proxy writes a V8 heap snapshot when the churn starts and another
// at the end (node --heapsnapshot-signal), into a folder printed at the end with the live
// heap each holds; compare them in Chrome DevTools' Memory tab ("Comparison") to see what
// was retained, and by what.
//
// Needs root. Everything it creates (namespaces, the proxy process, the snapshot folder) is
// removed when it ends, also on failure or SIGINT; it uses only addresses of its own namespaces.
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onExit } from 'signal-exit';
import { createTopology, type Topology } from '../harness/lab/netns/index.ts';
import { dataplaneFor, type Dataplane } from './backends/conformance/dataplanes.testkit.ts';
import { ProxyUnderTest, marksOf } from './backends/conformance/proxy-under-test.testkit.ts';
import { SnapshotFile } from './backends/conformance/snapshot.ts';
import { node, service, slice } from './model/testing.ts';
import { parseDuration } from './cli/parse.ts';
import { cpuMs, memoryBytes } from './bench/process-stats.ts';
import { errorText } from './errors.ts';

const backends: Record<string, Dataplane> = { nft: dataplaneFor('nft'), 'iptables-nft': dataplaneFor('iptables-nft'), 'iptables-legacy': dataplaneFor('iptables-legacy') };

interface Settings {
  services: number;
  endpoints: number;
  backend: string;
  durationMs: number;
  intervalMs: number;
  sampleMs: number;
  heapSnapshots: boolean;
}

function settings(argv: string[]): Settings {
  const flag = (name: string) => argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  const value = (name: string) => flag(name)?.split('=').slice(1).join('=');
  const known = ['quick', 'duration', 'heap-snapshots'];
  const unknown = argv.filter((a) => !known.some((k) => a === `--${k}` || a.startsWith(`--${k}=`)));
  if (unknown.length > 0) throw new Error(errorText('KPNG_ERR_BENCH', `unknown argument ${unknown.join(' ')} (accepted: --quick, --duration=<e.g. 90s>, --heap-snapshots)`));
  const duration = value('duration') ?? process.env.BENCH_DURATION ?? (flag('quick') ? '20s' : '90s');
  const backend = process.env.BENCH_BACKEND ?? 'nft';
  if (!(backend in backends)) throw new Error(errorText('KPNG_ERR_BENCH', `BENCH_BACKEND=${backend}; accepted: ${Object.keys(backends).join(', ')}`));
  const s: Settings = {
    services: Number(process.env.BENCH_SERVICES ?? 1000),
    endpoints: Number(process.env.BENCH_ENDPOINTS ?? 2),
    backend,
    durationMs: parseDuration(duration) ?? NaN,
    intervalMs: parseDuration(process.env.BENCH_INTERVAL ?? '500ms') ?? NaN,
    sampleMs: 10_000,
    heapSnapshots: flag('heap-snapshots') !== undefined,
  };
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number' && !(Number.isInteger(v) && v > 0)) throw new Error(errorText('KPNG_ERR_BENCH', `${k}=${v}; accepted: a positive integer (durations like 90s, 500ms)`));
  }
  return s;
}

/** The snapshot at change number `round`: every endpoint of every Service moves with each round. */
function objects(t: Topology, s: Settings, round: number): unknown[] {
  const n = t.node('node-1');
  const out: unknown[] = [node(n.name, { addresses: n.ips })];
  for (let i = 0; i < s.services; i++) {
    const name = `svc-${i}`;
    out.push(service(name, { namespace: 'soak', clusterIPs: [`10.96.${(i >> 8) & 255}.${i & 255}`], ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
    const eps = Array.from({ length: s.endpoints }, (_, e) => {
      // 10.244.0.0/16 (the cluster CIDR), a different address each round.
      const k = 1 + ((i * s.endpoints + e + round * s.services * s.endpoints) % 65_000);
      return { ip: `10.244.${(k >> 8) & 255}.${k & 255}`, node: e % 2 === 0 ? 'node-1' : 'node-2' };
    });
    out.push(slice(`${name}-1`, name, eps, { namespace: 'soak', ports: [{ name: 'http', port: 8080 }] }));
  }
  return out;
}

interface Row {
  phase: 'churn' | 'after';
  's': number;
  'RSS MB': number;
  'heap used MB': number;
  'heap total MB': number;
  'external MB': number;
  'CPU %': number;
  'snapshot writes': number;
  /** Node-local states handed to the sync loop (each one changes every Service). */
  'states': number;
  'partial syncs': number;
  'full syncs': number;
  'sync failures': number;
}

const mb = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);

/** The sum of the objects' own sizes in a V8 heap snapshot: the live heap when it was taken. */
async function liveHeapMB(file: string): Promise<string> {
  const { size } = await stat(file);
  if (size > 400 * 2 ** 20) return `(snapshot of ${Math.round(size / 2 ** 20)} MB, too large to read here)`;
  const snap = JSON.parse(await readFile(file, 'utf8')) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[] };
  const fields = snap.snapshot.meta.node_fields;
  const selfSize = fields.indexOf('self_size');
  let total = 0;
  for (let i = selfSize; i < snap.nodes.length; i += fields.length) total += snap.nodes[i]!;
  return `${mb(total)} MB`;
}

async function soak(s: Settings): Promise<void> {
  const log = (line: string) => process.stderr.write(`bench:soak ${line}\n`);
  const dataplane = backends[s.backend]!;
  const snapshot = await SnapshotFile.create();
  const snapshotsDir = s.heapSnapshots ? await mkdtemp(path.join(tmpdir(), 'kpng-soak-heap-')) : undefined;
  let done = false;
  // Interrupted (SIGINT, SIGTERM: the lab destroys its namespaces and ends the process): the folders go too.
  const removeOnExit = onExit(() => {
    rmSync(path.dirname(snapshot.path), { recursive: true, force: true });
    if (!done && snapshotsDir !== undefined) rmSync(snapshotsDir, { recursive: true, force: true });
  });
  const topology = await createTopology({ family: 'ipv4', nodes: ['node-1'] });
  try {
    let round = 0;
    await snapshot.write(objects(topology, s, round));
    const proxy = ProxyUnderTest.start({
      topology,
      node: topology.node('node-1'),
      dataplane,
      input: snapshot.path,
      syncPeriod: '30s',
      logLevel: process.env.BENCH_PROXY_LOG ?? 'warn',
      ...(snapshotsDir !== undefined && { nodeOptions: ['--heapsnapshot-signal=SIGUSR2'], cwd: snapshotsDir }),
    });
    if (process.env.BENCH_PROXY_LOG !== undefined) proxy.process.onLine((line) => process.stderr.write(`proxy: ${line}\n`));
    const t0 = Date.now();
    await proxy.waitFor(`first sync of ${s.services} Services`, (p) => (p.max('kubeproxy_sync_full_proxy_rules_duration_seconds_count') ?? 0) >= 1, 120_000);
    log(`first sync ${Date.now() - t0} ms after start; ${s.services} Services × ${s.endpoints} endpoints, all changing every ${s.intervalMs} ms for ${s.durationMs / 1000} s (${dataplane.title})`);

    const rows: Row[] = [];
    let cpuBefore = { at: Date.now(), ms: await cpuMs(proxy.process.pid) };
    const sample = async (phase: Row['phase'], at: number) => {
      // A busy proxy may take longer than one probe's timeout to answer: waitFor retries.
      const page = await proxy.waitFor('an answer on /metrics', () => true, 60_000);
      const marks = marksOf(page, dataplane);
      const cpu = { at: Date.now(), ms: await cpuMs(proxy.process.pid) };
      rows.push({
        phase,
        's': Math.round(at / 1000),
        'RSS MB': mb(await memoryBytes(proxy.process.pid, 'VmRSS')),
        'heap used MB': mb(page.value('nodejs_heap_size_used_bytes') ?? NaN),
        'heap total MB': mb(page.value('nodejs_heap_size_total_bytes') ?? NaN),
        'external MB': mb(page.value('nodejs_external_memory_bytes') ?? NaN),
        'CPU %': Math.round((100 * (cpu.ms - cpuBefore.ms)) / Math.max(1, cpu.at - cpuBefore.at)),
        'snapshot writes': round,
        'states': Math.round((page.value('kubeproxy_sync_proxy_rules_endpoint_changes_total') ?? 0) / s.services),
        'partial syncs': marks.partial,
        'full syncs': marks.full,
        'sync failures': marks.failures,
      });
      cpuBefore = cpu;
      log(JSON.stringify(rows.at(-1)));
    };
    /** Live heap sizes (MB, after the full collection a snapshot makes) read from the snapshots taken. */
    const liveMB: string[] = [];
    const heapSnapshot = async (what: string) => {
      if (snapshotsDir === undefined) return;
      const taken = async () => (await readdir(snapshotsDir)).filter((f) => f.endsWith('.heapsnapshot')).sort();
      const before = (await taken()).length;
      process.kill(proxy.process.pid, 'SIGUSR2');
      // The proxy writes it on its main thread: once it answers again, the file is complete.
      await new Promise((r) => setTimeout(r, 500));
      await proxy.waitFor(`heap snapshot (${what})`, () => true, 300_000);
      const files = await taken();
      if (files.length <= before) throw new Error(errorText('KPNG_ERR_BENCH', `no heap snapshot (${what}) in ${snapshotsDir}`));
      const file = path.join(snapshotsDir, files.at(-1)!);
      liveMB.push(`${what} ${await liveHeapMB(file)}`);
      log(`heap snapshot (${what}): ${file}`);
    };

    await heapSnapshot('start');
    const start = Date.now();
    await sample('churn', 0);
    let nextSample = s.sampleMs;
    for (;;) {
      const elapsed = Date.now() - start;
      if (elapsed >= s.durationMs) break;
      if (!proxy.process.running) throw new Error(errorText('KPNG_ERR_BENCH', `the proxy exited (${JSON.stringify(proxy.process.exit)}); output:\n${proxy.process.output}`));
      if (elapsed >= nextSample) {
        await sample('churn', nextSample);
        nextSample += s.sampleMs;
      }
      round++;
      await snapshot.write(objects(topology, s, round));
      // The next write at the next multiple of the interval (writing takes time too).
      const wait = start + round * s.intervalMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const end = Date.now();
    // The last change must be in effect: the proxy kept up and is still right.
    await proxy.waitForSync(end - s.intervalMs, 60_000);
    await sample('churn', end - start);
    // Then quiet: the proxy should go idle (no backlog of work) and its memory settle.
    await new Promise((r) => setTimeout(r, s.sampleMs));
    await sample('after', Date.now() - start);
    await heapSnapshot('end');

    const churn = rows.filter((r) => r.phase === 'churn');
    const first = churn[0]!;
    const last = churn.at(-1)!;
    const mid = churn.findLast((r) => r.s <= last.s / 2) ?? first;
    console.log(
      `bench:soak — ${s.services} Services × ${s.endpoints} endpoints, every endpoint changed every ${s.intervalMs} ms (${round} snapshots), ` +
        `kpng file → to-local → ${dataplane.stage} in a network namespace, ${new Date().toISOString().slice(0, 10)}, node ${process.version}`,
    );
    console.table(rows);
    const delta = (a: Row, b: Row, column: 'RSS MB' | 'heap total MB') => `${b[column] - a[column] >= 0 ? '+' : ''}${(b[column] - a[column]).toFixed(1)} MB`;
    const after = rows.at(-1)!;
    console.log(
      `growth over the run (${first.s}→${last.s} s): RSS ${delta(first, last, 'RSS MB')}, V8 heap total ${delta(first, last, 'heap total MB')}; ` +
        `over its second half (${mid.s}→${last.s} s): RSS ${delta(mid, last, 'RSS MB')}, V8 heap total ${delta(mid, last, 'heap total MB')}; ` +
        `heap used ${after['heap used MB']} MB 10 s after the churn`,
    );
    if (snapshotsDir !== undefined) console.log(`heap snapshots in ${snapshotsDir}; live heap (after a full collection): ${liveMB.join(', ')}`);
    done = true;
  } finally {
    await topology.destroy();
    await snapshot.remove();
    if (!done && snapshotsDir !== undefined) await rm(snapshotsDir, { recursive: true, force: true });
    removeOnExit();
  }
}

try {
  if (process.getuid?.() !== 0) throw new Error(errorText('KPNG_ERR_BENCH_ROOT', 'the benchmark makes network namespaces and runs the kernel tools in them: run it as root'));
  await soak(settings(process.argv.slice(2)));
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
