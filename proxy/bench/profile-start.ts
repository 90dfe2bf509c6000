// Profiles kpng's start against a real API server, as bench:vs-kube-proxy runs it: one
// etcd + kube-apiserver holding N Services × 10 endpoints, kpng (compiled when dist/ is
// built) started in a fresh network namespace as node n1 through the lab's API relay,
// with V8's CPU profiler and/or a heap snapshot taken just after its first complete sync.
// Prints the start's timeline (debug log lines), the RSS curve, the CPU profile's top
// functions and modules by self time, and the heap snapshot's biggest constructors.
//
//   node proxy/bench/profile-start.ts [--services 1000] [--modes iptables-nft,nftables]
//        [--cpu] [--snapshot] [--node-flags="--max-semi-space-size=16"]... [--out dir] [--runs 1]
//
// Without --node-flags kpng starts as users and the image start it, through its bin (the
// launcher proxy/kpng.sh, which picks node's flags; --cpu/--snapshot go in NODE_OPTIONS).
// Each --node-flags is one variant that starts node directly with those flags instead
// ("" for none, --node-flags= --node-flags=--max-semi-space-size=2 ...); with several, every
// run starts each mode once per variant, interleaved, so that variants are compared close
// together in time.
//
// Not a benchmark (no kube-proxy beside it): the tool to find where a start's time and
// memory go. Needs root and hack/k8s-binaries.sh's etcd and kube-apiserver.
import { mkdtemp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../../harness/k8s-binaries.ts';
import { nodeObject, RELAY_NAMESPACE, RELAY_PORT, relayAddresses, startApiRelay, startLabControlPlane, writeNodeKubeconfig } from '../../harness/lab/cluster/index.ts';
import { createTopology, projectNode } from '../../harness/lab/netns/index.ts';
import { apiClient, inParallel } from './api-client.ts';
import { kpngCommand } from './kpng-command.ts';
import { cpuMs, memoryBytes } from './process-stats.ts';

const { values: flags } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    modes: { type: 'string', default: 'iptables-legacy,iptables-nft,nftables' },
    cpu: { type: 'boolean', default: false },
    snapshot: { type: 'boolean', default: false },
    'node-flags': { type: 'string', multiple: true },
    out: { type: 'string' },
    runs: { type: 'string', default: '1' },
  },
});
const services = Number(flags.services);
const modes = flags.modes!.split(',');
/** undefined: through the bin, as users run it. */
const variants: (string[] | undefined)[] = flags['node-flags']?.map((v) => v.split(' ').filter((f) => f !== '')) ?? [undefined];
const runs = Number(flags.runs);
const ns = 'bench';
const nodeName = 'n1';
const kpng = kpngCommand();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line: string) => process.stdout.write(`${line}\n`);

const endpointIP = (n: number) => `10.${128 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;

// ------------------------------------------------------------------ summaries

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self time by function and by module (package or first-party file) of a .cpuprofile. */
function summarizeCpu(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^file:\/\//, '');
    const rel = file.startsWith(repoRoot) ? path.relative(repoRoot, file) : file;
    const key = `${f.functionName || '(anonymous)'} ${rel ? `${rel}:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(rel)?.[1];
    const mod = pkg ? `pkg ${pkg}` : rel === '' ? f.functionName || '(vm)' : rel.startsWith('node:') ? 'node: internals' : rel;
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `  ${(us / 1000).toFixed(0).padStart(6)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return `CPU profile: ${(total / 1000).toFixed(0)} ms sampled\n by function (self):\n${rows(byFn)}\n by module (self):\n${rows(byModule)}`;
}

/** Self size and count by constructor of a .heapsnapshot (retainers: see the note below). */
function summarizeHeap(snap: { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] }, top = 30): string {
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const agg = new Map<string, { size: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    const name = snap.strings[snap.nodes[i + iName]!]!;
    const key = type === 'object' || type === 'closure' ? `${type} ${name}` : `(${type})${type === 'native' ? ` ${name.slice(0, 40)}` : ''}`;
    const size = snap.nodes[i + iSize]!;
    total += size;
    const a = agg.get(key) ?? { size: 0, count: 0 };
    a.size += size;
    a.count++;
    agg.set(key, a);
  }
  const rows = [...agg]
    .sort((a, b) => b[1].size - a[1].size)
    .slice(0, top)
    .map(([k, a]) => `  ${(a.size / 2 ** 20).toFixed(1).padStart(7)} MiB ${String(a.count).padStart(9)}×  ${k}`)
    .join('\n');
  return `heap snapshot: ${(total / 2 ** 20).toFixed(1)} MiB live\n${rows}`;
}

// ------------------------------------------------------------------ the run

async function profileOnce(cp: Awaited<ReturnType<typeof startLabControlPlane>>, mode: string, nodeFlags: string[] | undefined, out: string, scratch: string): Promise<void> {
  const topology = await createTopology({ family: 'ipv4', nodes: [nodeName], clients: [RELAY_NAMESPACE] });
  let relay: Awaited<ReturnType<typeof startApiRelay>> | undefined;
  try {
    const relayNs = topology.client(RELAY_NAMESPACE);
    for (const ip of relayNs.ips) if (!relayAddresses().includes(ip)) throw new Error(`the relay namespace has ${ip}, which the certificate does not name`);
    const dir = await mkdtemp(path.join(scratch, 'run-'));
    relay = await startApiRelay({ target: cp.server, namespace: relayNs, addresses: relayNs.ips, port: RELAY_PORT, socket: path.join(dir, 'api.sock') });
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeNodeKubeconfig(cp.kubeconfig, kubeconfig, relay.url);
    const node = topology.node(nodeName);
    const backend = mode === 'nftables' ? ['to-nft'] : ['to-iptables', `--iptables-mode=${mode === 'iptables-legacy' ? 'legacy' : 'nft'}`];
    const profDir = path.join(out, mode);
    await mkdir(profDir, { recursive: true });
    const v8 = [...(nodeFlags ?? []), ...(flags.cpu ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=200'] : []), ...(flags.snapshot ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${profDir}`] : [])];
    const args = ['kube', `--kubeconfig=${kubeconfig}`, 'to-local', `--node-name=${nodeName}`, ...backend, `--cluster-cidr=${topology.clusterCidrs.join(',')}`, '--metrics-bind-address=127.0.0.1:10249'];
    const started = Date.now();
    const proxy =
      nodeFlags === undefined
        ? node.spawn(kpng.file, args, { env: { ...kpng.env, KPNG_LOG_LEVEL: 'debug', ...(v8.length > 0 ? { NODE_OPTIONS: v8.join(' ') } : {}) } })
        : node.spawn(projectNode(), [...v8, kpng.entry, ...args], { env: { ...kpng.env, KPNG_LOG_LEVEL: 'debug' } });
    const rss: [number, number][] = [];
    let synced = 0;
    while (synced === 0 && Date.now() - started < 120_000) {
      if (!proxy.running) throw new Error(`kpng exited: ${proxy.output.slice(-2000)}`);
      try {
        rss.push([Date.now() - started, (await memoryBytes(proxy.pid, 'VmRSS')) / 2 ** 20]);
      } catch {
        /* not yet */
      }
      try {
        const { body } = await node.httpGet('http://127.0.0.1:10249/metrics', { timeoutMs: 1_000 });
        for (const m of body.matchAll(/^kubeproxy_sync_proxy_rules_last_timestamp_seconds(?:\{[^}]*\})? (\S+)$/gm)) synced = Math.max(synced, Number(m[1]));
      } catch {
        /* not listening yet */
      }
      await sleep(25);
    }
    const startMs = synced * 1000 - started;
    await sleep(1000);
    const peak = (await memoryBytes(proxy.pid, 'VmHWM')) / 2 ** 20;
    const now = (await memoryBytes(proxy.pid, 'VmRSS')) / 2 ** 20;
    const cpu = (await cpuMs(proxy.pid, { children: true })) / 1000;
    if (flags.snapshot) {
      process.kill(proxy.pid, 'SIGUSR2');
      for (let i = 0; i < 600 && !(await readdir(profDir)).some((f) => f.endsWith('.heapsnapshot')); i++) await sleep(100);
      await sleep(3000); // the file is written in one go after its creation
    }
    await proxy.stop({ graceMs: 30_000 });
    say(`\n=== ${mode}, ${services} Services, ${nodeFlags === undefined ? 'through the bin' : `node flags [${nodeFlags.join(' ')}]`}: start → rules ${startMs} ms, peak RSS ${peak.toFixed(0)} MiB (${now.toFixed(0)} MiB after 1 s), CPU ${cpu.toFixed(2)} s`);
    say('timeline (ms after spawn):');
    for (const line of proxy.output.split('\n')) {
      const m = /^(\w+)\s+(\S+Z) (.*)$/.exec(line);
      if (m && !/ event | watching /.test(line)) say(`  ${String(Date.parse(m[2]!) - started).padStart(6)}  ${m[3]!.slice(0, 160)}`);
    }
    say(`RSS (MiB) every ~100 ms: ${rss.filter((_, i) => i % 4 === 0).map(([t, m]) => `${t}:${m.toFixed(0)}`).join(' ')}`);
    for (const f of await readdir(profDir)) {
      const file = path.join(profDir, f);
      if (f.endsWith('.cpuprofile')) say(summarizeCpu(JSON.parse(await readFile(file, 'utf8'))));
      if (f.endsWith('.heapsnapshot')) say(summarizeHeap(JSON.parse(await readFile(file, 'utf8'))));
    }
  } finally {
    await relay?.stop();
    await topology.destroy();
  }
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'kpng-profile-start-'));
  const out = flags.out ?? path.join(scratch, 'profiles');
  const cp = await startLabControlPlane({ baseDir: scratch });
  try {
    const api = await apiClient(cp);
    await api('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    const probe = await createTopology({ family: 'ipv4', nodes: [nodeName] });
    const n = probe.node(nodeName);
    await api('POST', '/api/v1/nodes', nodeObject({ name: nodeName, ips: n.ips, podCidrs: n.podCidrs }));
    await probe.destroy();
    await inParallel([...Array(services).keys()], 32, async (s) => {
      await api('POST', `/api/v1/namespaces/${ns}/services`, { metadata: { name: `svc-${s}` }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
      await api('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
        metadata: { name: `svc-${s}-1`, labels: { 'kubernetes.io/service-name': `svc-${s}` } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: Array.from({ length: 10 }, (_, e) => ({ addresses: [endpointIP(s * 10 + e)], conditions: { ready: true }, nodeName: e % 2 === 0 ? nodeName : 'n2' })),
      });
    });
    say(`${services} Services × 10 endpoints written; kpng: ${path.relative(repoRoot, kpng.file)}; profiles in ${out}`);
    for (let r = 0; r < runs; r++)
      for (const mode of modes)
        for (const [v, nodeFlags] of variants.entries()) await profileOnce(cp, mode, nodeFlags, path.join(out, `run${r}`, `v${v}`), scratch);
  } finally {
    await cp.stop();
    if (!flags.out) await rm(scratch, { recursive: true, force: true });
    else await rm(path.join(scratch, 'etcd'), { recursive: true, force: true }).catch(() => undefined);
  }
}

await main();
