// npm run bench:vs-kube-proxy — kpng and upstream kube-proxy side by side, on the path
// users run: one real etcd + kube-apiserver on loopback holding N Services × 10
// endpoints; each proxy is started as a process in a fresh network namespace as node n1
// (reaching the API server through the lab's relay, with its own kubeconfig), programs
// that namespace, and is measured; proxies alternate (kube-proxy, kube-proxy with
// min-sync 0, kpng; then again) per mode and N.
//
// Figures per run: process start → first complete sync in the kernel (the proxy's own
// kubeproxy_sync_proxy_rules_last_timestamp_seconds, which both set after their rules
// were accepted), and of it the first sync alone (the proxy's own
// kubeproxy_sync_full_proxy_rules_duration_seconds: the rest is starting and listing); endpoint change (a merge patch of one EndpointSlice) → the new endpoint
// in the kernel: in the nf_tables modes (nftables, iptables-nft) the kernel's event for
// the commit that adds the endpoint's rule, from one `nft monitor new` in the
// proxy's namespace (proxy/bench/rule-events.ts); with iptables-legacy, which has no
// events, and when the monitor does not listen within 120 s (nft 1.0.6 reads the whole
// ruleset first, again after every commit meanwhile; the progress says so), a
// targeted read every 5 ms (one chain; the middle of the span the rule must
// have landed in, so the resolution is ± half a read, whose cost the progress prints);
// the same methods for both proxies, the progress naming each run's; CPU seconds (proxy + its kernel tools; not the
// monitor); peak RSS of the proxy; ruleset size. Medians over rounds and the kpng /
// kube-proxy ratio, as one table (also as markdown).
//
//   npm run bench:vs-kube-proxy [-- --quick] [--services 1000,10000] [--modes iptables-legacy,iptables-nft,nftables]
//                               [--rounds 2] [--changes 40] [--cap 600] [--save-rules dir]
//   --quick: 1,000 Services, one round, 15 changes (about 5 minutes)
//   --save-rules: each run's ruleset just after its first sync, as iptables-save or nft list
//   ruleset prints it, into dir (<mode>-<N>-<proxy>-<run>.rules), to replay restores by hand
//
// kpng runs as users run it and as the image's ENTRYPOINT does: through its bin, the launcher
// proxy/kpng.sh (node's flags), compiled (dist/, which the npm script builds first; from
// source when there is no build), with no other environment than the project's node on PATH. Needs root and the binaries of hack/k8s-binaries.sh (etcd,
// kube-apiserver, kube-proxy), which the npm script obtains.
import { mkdtemp, rm, symlink, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { k8sBinDir, repoRoot } from '../harness/k8s-binaries.ts';
import { nodeObject, RELAY_NAMESPACE, RELAY_PORT, relayAddresses, startApiRelay, startLabControlPlane, writeNodeKubeconfig } from '../harness/lab/cluster/index.ts';
import type { ControlPlane } from '../harness/lab/control-plane/index.ts';
import { createTopology, programEnv, type Node, type NsProcess, type Topology } from '../harness/lab/netns/index.ts';
import { endpointString, servicePortEndpointChainName } from './backends/iptables/names.ts';
import { servicePortChainNameBase, servicePortEndpointChainNameBase } from './backends/nft/names.ts';
import { kpngCommand } from './bench/kpng-command.ts';
import { apiClient, inParallel, quantile, type ApiCall } from './bench/api-client.ts';
import { cpuMs, memoryBytes } from './bench/process-stats.ts';
import { addsEndpointRule, RuleEvents, type EndpointRule } from './bench/rule-events.ts';
import { comparedSubjects, comparisonRows, markdownTable, type ComparedSubject, type RunResult } from './bench/comparison.ts';
import { errorText } from './errors.ts';

const modes = ['iptables-legacy', 'iptables-nft', 'nftables'] as const;
type Mode = (typeof modes)[number];

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    services: { type: 'string' },
    modes: { type: 'string' },
    rounds: { type: 'string' },
    changes: { type: 'string' },
    cap: { type: 'string' },
    'save-rules': { type: 'string' },
  },
});
const quick = flags.quick ?? false;
const sizes = (flags.services ?? (quick ? '1000' : '1000,10000')).split(',').map(Number);
const chosenModes = (flags.modes ?? modes.join(',')).split(',') as Mode[];
const rounds = Number(flags.rounds ?? (quick ? 1 : 2));
const changes = Number(flags.changes ?? (quick ? 15 : 40));
const capMs = Number(flags.cap ?? 600) * 1000;
const saveRules = flags['save-rules'] === undefined ? undefined : path.resolve(flags['save-rules']);
let saved = 0;
/** How long the nf_tables modes wait for `nft monitor` to listen (it reads the whole ruleset first) before reading chains instead. */
const monitorWaitMs = Math.min(capMs, 120_000);
for (const m of chosenModes) if (!modes.includes(m)) fail(`--modes names "${m}"; accepted: ${modes.join(', ')}`);
for (const n of sizes) if (!Number.isInteger(n) || n < 1 || n > 60_000) fail(`--services holds "${n}"; accepted: whole numbers 1-60000`);
if (!(rounds >= 1 && changes >= 1 && capMs > 0)) fail('--rounds, --changes and --cap take positive numbers');

const endpointsPerService = 10;
const ns = 'bench';
const nodeName = 'n1';
const targetPort = 8080;
const binDir = k8sBinDir();
const kpng = kpngCommand();

function fail(message: string): never {
  process.stderr.write(errorText('KPNG_ERR_BENCH', `${message}\n`));
  process.exit(2);
}

const t0 = performance.now();
const progress = (line: string) => process.stderr.write(`[vs-kube-proxy +${((performance.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ the cluster's objects

const endpointIP = (n: number) => `10.${128 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;
/** Service s's endpoints; `generation` moves the first one to a new address. */
const endpointsOf = (s: number, generation: number) =>
  Array.from({ length: endpointsPerService }, (_, e) => ({
    addresses: [e === 0 && generation > 0 ? endpointIP((1 << 21) + ((s * 7 + generation) % (1 << 21))) : endpointIP(s * endpointsPerService + e)],
    conditions: { ready: true },
    nodeName: e % 2 === 0 ? nodeName : 'n2',
  }));

/** Creates Services svc-<from>..svc-<to-1> with their slices (sizes grow, so each size adds to the last). */
async function createServices(api: ApiCall, from: number, to: number): Promise<void> {
  const started = performance.now();
  let done = 0;
  await inParallel([...Array(to - from).keys()].map((i) => from + i), 32, async (s) => {
    await api('POST', `/api/v1/namespaces/${ns}/services`, { metadata: { name: `svc-${s}` }, spec: { ports: [{ name: 'http', port: 80, targetPort }] } });
    await api('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
      metadata: { name: `svc-${s}-1`, labels: { 'kubernetes.io/service-name': `svc-${s}` } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: targetPort, protocol: 'TCP' }],
      endpoints: endpointsOf(s, 0),
    });
    if (++done % 2000 === 0) progress(`  ${from + done} Services written`);
  });
  progress(`${to} Services × ${endpointsPerService} endpoints in the API (${Math.round(performance.now() - started)} ms to write ${to - from})`);
}

// ------------------------------------------------------------------ the proxies

/** A folder whose iptables commands are the chosen flavour, first on kube-proxy's PATH. */
async function flavourBin(dir: string, flavour: 'legacy' | 'nft'): Promise<string> {
  const bin = path.join(dir, `iptables-${flavour}`);
  await mkdir(bin, { recursive: true });
  for (const v of ['iptables', 'ip6tables']) {
    for (const suffix of ['', '-save', '-restore']) {
      const link = path.join(bin, `${v}${suffix}`);
      if (!existsSync(link)) await symlink(`/usr/sbin/xtables-${flavour}-multi`, link);
    }
  }
  return bin;
}

interface Launch {
  file: string;
  args: string[];
  env: Record<string, string>;
}

async function launch(subject: ComparedSubject, mode: Mode, kubeconfig: string, clusterCidr: string, scratch: string): Promise<Launch> {
  if (subject === 'kpng') {
    const backend = mode === 'nftables' ? ['to-nft'] : ['to-iptables', `--iptables-mode=${mode === 'iptables-legacy' ? 'legacy' : 'nft'}`];
    return {
      file: kpng.file,
      args: ['kube', `--kubeconfig=${kubeconfig}`, 'to-local', `--node-name=${nodeName}`, ...backend, `--cluster-cidr=${clusterCidr}`, '--metrics-bind-address=127.0.0.1:10249'],
      env: kpng.env,
    };
  }
  // --iptables-min-sync-period is the minimum sync period of every mode (the config's top-level minSyncPeriod).
  const minSync = subject === 'kube-proxy min-sync 0' ? ['--iptables-min-sync-period=0s'] : [];
  const env = { ...programEnv() };
  if (mode !== 'nftables') env.PATH = `${await flavourBin(scratch, mode === 'iptables-legacy' ? 'legacy' : 'nft')}:${process.env.PATH ?? ''}`;
  return {
    file: path.join(binDir, 'kube-proxy'),
    args: [
      `--kubeconfig=${kubeconfig}`,
      `--hostname-override=${nodeName}`,
      `--proxy-mode=${mode === 'nftables' ? 'nftables' : 'iptables'}`,
      `--cluster-cidr=${clusterCidr}`,
      '--metrics-bind-address=127.0.0.1:10249',
      '--healthz-bind-address=127.0.0.1:10256',
      // nf_conntrack_max is global and read-only outside the host's namespace.
      '--conntrack-max-per-core=0',
      ...minSync,
    ],
    env,
  };
}

interface SyncMetrics {
  /** kubeproxy_sync_proxy_rules_last_timestamp_seconds of IPv4, 0 before the first sync. */
  lastSeconds: number;
  /** kubeproxy_sync_full_proxy_rules_duration_seconds' IPv4 sum while its count is 1: the first full sync alone. */
  firstFullSeconds: number | undefined;
}

/** The proxy's own sync metrics, which kube-proxy and kpng both export under these names. */
async function syncMetrics(node: Node): Promise<SyncMetrics> {
  let body: string;
  try {
    ({ body } = await node.httpGet('http://127.0.0.1:10249/metrics', { timeoutMs: 2_000 }));
  } catch {
    return { lastSeconds: 0, firstFullSeconds: undefined };
  }
  // Both label these by ip_family, and kube-proxy syncs each family on its own: the bench's
  // Services are IPv4, so the IPv4 series (an IPv6 sync of nothing ends first).
  const ipv4 = (name: string) => {
    const m = body.match(new RegExp(`^${name}\\{[^}]*ip_family="IPv4"[^}]*\\} (\\S+)$`, 'm'));
    return m ? Number(m[1]) : undefined;
  };
  const lastSeconds = ipv4('kubeproxy_sync_proxy_rules_last_timestamp_seconds') ?? 0;
  const firstFullSeconds = ipv4('kubeproxy_sync_full_proxy_rules_duration_seconds_count') === 1 ? ipv4('kubeproxy_sync_full_proxy_rules_duration_seconds_sum') : undefined;
  return { lastSeconds, firstFullSeconds };
}

/**
 * A targeted read of the kernel: is this endpoint of Service s in the rules yet? For
 * iptables-legacy, and for the nf_tables modes when the monitor is not ready in time.
 */
function endpointProbe(node: Node, subject: ComparedSubject, mode: Mode): (s: number, ip: string) => Promise<boolean> {
  if (mode === 'nftables') {
    if (subject === 'kpng') {
      return async (s, ip) => {
        const r = await node.run('nft', ['list', 'chain', 'ip', 'kpng', `service-${servicePortChainNameBase(ns, `svc-${s}`, 'tcp', 'http')}`]);
        return r.exitCode === 0 && r.stdout.includes(` ${endpointString(ip, targetPort)}`);
      };
    }
    return async (s, ip) => (await node.run('nft', ['list', 'chain', 'ip', 'kube-proxy', `endpoint-${servicePortEndpointChainNameBase(ns, `svc-${s}`, 'tcp', 'http', ip, targetPort)}`])).exitCode === 0;
  }
  // Both lay iptables out as kube-proxy does: the endpoint's KUBE-SEP chain is written with the service's chains, in one restore.
  const tool = mode === 'iptables-legacy' ? 'iptables-legacy' : 'iptables-nft';
  return async (s, ip) => (await node.run(tool, ['-w', '-t', 'nat', '-S', servicePortEndpointChainName(`${ns}/svc-${s}:http`, 'tcp', endpointString(ip, targetPort))])).exitCode === 0;
}

/** nf_tables modes: the committed rule that programs endpoint `ip` of Service s, as `nft monitor` prints it. */
function endpointRule(subject: ComparedSubject, mode: Mode, s: number, ip: string): EndpointRule {
  // nftables: kpng's service chain DNATs itself, kube-proxy's endpoint chain does; either rule names the endpoint.
  if (mode === 'nftables') return { table: subject === 'kpng' ? 'kpng' : 'kube-proxy', dnatTo: endpointString(ip, targetPort) };
  return { table: 'nat', chain: servicePortEndpointChainName(`${ns}/svc-${s}:http`, 'tcp', endpointString(ip, targetPort)) };
}

/** The node's ruleset as the mode's own tool prints it (iptables-save: IPv4 then IPv6). */
async function ruleset(node: Node, mode: Mode): Promise<string> {
  if (mode === 'nftables') return node.exec('nft', ['list', 'ruleset']);
  const flavour = mode === 'iptables-legacy' ? 'legacy' : 'nft';
  return (await node.exec(`iptables-${flavour}-save`, [])) + (await node.exec(`ip6tables-${flavour}-save`, []));
}

async function rulesetLines(node: Node, mode: Mode): Promise<number> {
  return (await ruleset(node, mode)).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).length;
}

/** --save-rules: the ruleset just after the first sync, to replay its restore by hand. */
async function saveRuleset(node: Node, mode: Mode, file: string): Promise<void> {
  await writeFile(file, await ruleset(node, mode));
  progress(`  ruleset saved to ${file}`);
}

interface World {
  cp: ControlPlane;
  api: ApiCall;
  scratch: string;
}

async function measureRun(world: World, subject: ComparedSubject, mode: Mode, services: number, generation: { next: number }): Promise<RunResult> {
  const result: RunResult = { subject, mode, services, startMs: undefined, firstSyncMs: undefined, changeMs: [], cpuSeconds: Number.NaN, peakRssMiB: Number.NaN, rulesetLines: Number.NaN };
  let topology: Topology | undefined;
  let relay: Awaited<ReturnType<typeof startApiRelay>> | undefined;
  let proxy: NsProcess | undefined;
  try {
    topology = await createTopology({ family: 'ipv4', nodes: [nodeName], clients: [RELAY_NAMESPACE] });
    const relayNs = topology.client(RELAY_NAMESPACE);
    const expected = relayAddresses();
    for (const ip of relayNs.ips) if (!expected.includes(ip)) throw new Error(`the relay namespace has ${ip}, which the API server's certificate does not name`);
    const dir = await mkdtemp(path.join(world.scratch, 'run-'));
    relay = await startApiRelay({ target: world.cp.server, namespace: relayNs, addresses: relayNs.ips, port: RELAY_PORT, socket: path.join(dir, 'api.sock') });
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeNodeKubeconfig(world.cp.kubeconfig, kubeconfig, relay.url);
    const node = topology.node(nodeName);
    const how = await launch(subject, mode, kubeconfig, topology.clusterCidrs.join(','), world.scratch);

    const startedAt = Date.now();
    proxy = node.spawn(how.file, how.args, { env: how.env });
    for (;;) {
      if (!proxy.running) throw new Error(`${subject} exited: ${proxy.output.trimEnd().split('\n').slice(-10).join('\n')}`);
      const metrics = await syncMetrics(node);
      if (metrics.lastSeconds > 0) {
        result.startMs = metrics.lastSeconds * 1000 - startedAt;
        // kube-proxy sets the timestamp just before it observes the duration.
        const first = metrics.firstFullSeconds ?? (await sleep(200).then(() => syncMetrics(node))).firstFullSeconds;
        if (first !== undefined) result.firstSyncMs = first * 1000;
        break;
      }
      if (Date.now() - startedAt > capMs) break;
      await sleep(50);
    }
    if (result.startMs === undefined) {
      progress(`  ${subject}: no complete sync within ${capMs / 1000} s`);
    } else {
      const firstSync = result.firstSyncMs === undefined ? '' : ` (the first sync ${(result.firstSyncMs / 1000).toFixed(2)} s of it)`;
      progress(`  ${subject}: start → rules ${(result.startMs / 1000).toFixed(2)} s${firstSync}`);
      if (saveRules !== undefined) await saveRuleset(node, mode, path.join(saveRules, `${mode}-${services}-${subject.replaceAll(' ', '-')}-${++saved}.rules`));
      // nf_tables modes: the monitor's event for the commit that holds the endpoint's rule;
      // iptables-legacy (no events), or a monitor not ready within monitorWaitMs: a read of
      // one chain every 5 ms.
      const events =
        mode === 'iptables-legacy'
          ? undefined
          : await RuleEvents.start(node, monitorWaitMs).catch((error: unknown) => {
              progress(`  ${subject}: ${(error as Error).message}; reading one chain every 5 ms instead`);
              return undefined;
            });
      try {
        const probe = endpointProbe(node, subject, mode);
        const probeMs: number[] = [];
        const deadline = Date.now() + capMs;
        for (let i = 0; i < changes && Date.now() < deadline; i++) {
          const s = (generation.next * 7919) % services;
          const eps = endpointsOf(s, generation.next++);
          const ip = eps[0]!.addresses[0]!;
          const want = endpointRule(subject, mode, s, ip);
          const seen = events?.next((line) => addsEndpointRule(line, want), deadline - Date.now());
          const written = performance.now();
          await world.api('PATCH', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/svc-${s}-1`, { endpoints: eps }, 'application/merge-patch+json');
          let found: number | undefined;
          if (seen) found = await seen;
          else {
            // The rule landed after the last read that missed it began (or after the write) and
            // before the read that finds it ended: the middle of that span is within half of it
            // (one read + 5 ms) of the moment, either way.
            let notBefore = written;
            while (found === undefined && Date.now() <= deadline) {
              if (!proxy.running) throw new Error(`${subject} exited during the changes`);
              const started = performance.now();
              const present = await probe(s, ip);
              const ended = performance.now();
              probeMs.push(ended - started);
              if (present) found = (notBefore + ended) / 2;
              else {
                notBefore = started;
                await sleep(5);
              }
            }
          }
          if (!proxy.running) throw new Error(`${subject} exited during the changes`);
          if (found === undefined) break;
          result.changeMs.push(Math.max(0, found - written));
        }
        const how = events ? 'seen as committed by nft monitor' : `one kernel read ${quantile(probeMs, 0.5).toFixed(0)} ms (p50)`;
        progress(`  ${subject}: ${result.changeMs.length} changes, p50 ${quantile(result.changeMs, 0.5).toFixed(0)} ms, max ${quantile(result.changeMs, 1).toFixed(0)} ms; ${how}`);
      } finally {
        await events?.stop();
      }
    }
    result.cpuSeconds = (await cpuMs(proxy.pid, { children: true })) / 1000;
    result.peakRssMiB = (await memoryBytes(proxy.pid, 'VmHWM')) / 2 ** 20;
    result.rulesetLines = await rulesetLines(node, mode);
    return result;
  } finally {
    await proxy?.stop({ graceMs: 5_000 });
    await relay?.stop();
    await topology?.destroy();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) fail('the benchmark makes network namespaces and runs the proxies in them: run it as root');
  for (const b of ['etcd', 'kube-apiserver', 'kube-proxy']) {
    if (!existsSync(path.join(binDir, b))) fail(`${path.join(binDir, b)} is missing: run hack/k8s-binaries.sh --only etcd,kube-apiserver,kube-proxy`);
  }
  const kubeProxyVersion = (await execa(path.join(binDir, 'kube-proxy'), ['--version'], { reject: false })).stdout.trim();
  if (saveRules !== undefined) await mkdir(saveRules, { recursive: true });
  const scratch = await mkdtemp(path.join(tmpdir(), 'kpng-vs-kube-proxy-'));
  const cp = await startLabControlPlane({ baseDir: scratch });
  const results: RunResult[] = [];
  try {
    const api = await apiClient(cp);
    await api('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    // The node's addresses are the lab plan's for node 1: the same in every fresh topology.
    const probeTopology = await createTopology({ family: 'ipv4', nodes: [nodeName] });
    const node = probeTopology.node(nodeName);
    await api('POST', '/api/v1/nodes', nodeObject({ name: nodeName, ips: node.ips, podCidrs: node.podCidrs }));
    await probeTopology.destroy();
    const world: World = { cp, api, scratch };
    const generation = { next: 1 };
    let written = 0;
    for (const services of [...sizes].sort((a, b) => a - b)) {
      await createServices(api, written, services);
      written = services;
      for (const mode of chosenModes) {
        for (let round = 1; round <= rounds; round++) {
          for (const subject of comparedSubjects) {
            progress(`${mode}, ${services} Services, round ${round}/${rounds}: ${subject}`);
            try {
              results.push(await measureRun(world, subject, mode, services, generation));
            } catch (error) {
              progress(`  ${subject} failed: ${(error as Error).message}`);
              results.push({ subject, mode, services, startMs: undefined, firstSyncMs: undefined, changeMs: [], cpuSeconds: Number.NaN, peakRssMiB: Number.NaN, rulesetLines: Number.NaN });
            }
          }
        }
      }
    }
  } finally {
    await cp.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  const rows = comparisonRows(results);
  const cpus = (await readFile('/proc/cpuinfo', 'utf8')).match(/^processor/gm)?.length ?? 0;
  const header = `bench:vs-kube-proxy ${new Date().toISOString().slice(0, 10)}: ${kubeProxyVersion} vs kpng (${path.relative(repoRoot, kpng.file)}, node ${process.version}), ${endpointsPerService} endpoints per Service, one node (n1) in a fresh namespace per run, ${rounds} round(s) × ${changes} changes, ${cpus} CPUs; medians; change latency compared with kube-proxy at min-sync 0`;
  console.log(header);
  console.table(rows);
  console.log(markdownTable(rows));
}

await main();
