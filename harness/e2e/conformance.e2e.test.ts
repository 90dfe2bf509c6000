// The e2e tier: the upstream `[sig-network] Services ... [Conformance]` specs of e2e.test on
// IPv4 netns clusters (kubelet + containerd per node namespace, no Docker), one 3-node
// cluster per backend: upstream kube-proxy (the control), then kpng's iptables and nft
// backends from the kpng image, each as a DaemonSet. It runs `kpng-harness e2e --cluster
// netns`, the command `make e2e cluster=netns b=<backend> focus=...` runs, as a child
// process, and reads the JUnit it leaves in reports/e2e-conformance/ipv4-<backend>/:
// every selected spec ran on every backend, and each kpng backend passed every spec
// kube-proxy passed. Every cluster is gone afterwards, also when the run fails or is cut
// short.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../config/index.ts';
import { cgroupHierarchies } from '../cluster/netns/host.ts';
import { clusterPlan, mountsUnder, namespacesOf, stopCluster, DEFAULT_DATA_DIR, DEFAULT_RUN_DIR, type ClusterState } from '../cluster/netns/index.ts';
import { repoRoot } from '../k8s-binaries.ts';
import { projectNode } from '../lab/netns/programs.ts';
import { parseJUnit } from '../report/index.ts';
import { requireK8sBinaries } from './binaries.ts';
import { CONFORMANCE_BACKENDS, CONFORMANCE_FOCUS, conformanceE2eArgs, conformanceVerdict, type ConformanceRun, type ConformanceVerdict } from './conformance.ts';
import { composeSelection, narrowSelection, verifySelection } from './selection.ts';
import { listSpecs } from './specs.ts';
import { readSuites } from './suites.ts';

const results = path.join(repoRoot, 'reports/e2e-conformance');
/** Parallel ginkgo processes (as measured for the README's figures). */
const GINKGO_NODES = 4;
/** ginkgo's suite timeout per backend: a hung spec ends as interrupted, the tier within CI's budget. */
const SUITE_TIMEOUT = '20m';
const log = (line: string) => process.stderr.write(`${line}\n`);

const CLUSTER_LINE = /^\s*cluster (kc[0-9a-f]{4}): \d+ nodes, (?:ipv4|ipv6|dual), files in /;

/** Run `kpng-harness e2e` to its end, its stderr streamed (progress per spec), the netns cluster ids it announced collected. */
function runHarness(args: string[], clusterIds: Set<string>, started: (child: ChildProcess) => void): Promise<{ exitCode: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(projectNode(), ['harness/cli.ts', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    started(child);
    let stdout = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const id = CLUSTER_LINE.exec(line)?.[1];
        if (id) clusterIds.add(id);
        log(`  ${line}`);
      }
    });
    child.on('error', reject);
    child.on('close', (exitCode) => {
      if (pending) log(`  ${pending}`);
      resolve({ exitCode, stdout });
    });
  });
}

async function readRun(backend: string, expected: readonly string[]): Promise<ConformanceRun> {
  const where = path.join(results, `ipv4-${backend}`);
  const files = existsSync(where) ? (await readdir(where)).filter((f) => /^junit.*\.xml$/.test(f)).sort() : [];
  if (files.length === 0) return { backend, expected, cases: undefined, where };
  const cases = [];
  for (const f of files) cases.push(...parseJUnit(await readFile(path.join(where, f), 'utf8'), path.join(where, f)).cases);
  return { backend, expected, cases, where };
}

/** A process's parent and start time (clock ticks after boot), from /proc; undefined once it is gone. */
function procStat(pid: number): { ppid: number; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), start: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** The processes below `pid` with their start times (ginkgo and e2e.test run in the control plane's namespace, outside the cluster's cgroup). */
function descendants(pid: number): { pid: number; start: string }[] {
  const children = new Map<number, { pid: number; start: string }[]>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    const stat = procStat(Number(entry));
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), { pid: Number(entry), start: stat.start }]);
  }
  const out: { pid: number; start: string }[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (out.push(c), walk(c.pid)));
  walk(pid);
  return out;
}

/** What a netns cluster leaves on the host while it exists: namespaces, mounts, cgroups, files. */
async function leftovers(id: string): Promise<string[]> {
  const dirs = [path.join(DEFAULT_DATA_DIR, id), path.join(DEFAULT_RUN_DIR, id)];
  const cgroup = clusterPlan(id, 1).cgroup;
  return [
    ...(await namespacesOf(id)).map((n) => `namespace ${n}`),
    ...mountsUnder(dirs).map((m) => `mount ${m}`),
    ...cgroupHierarchies().filter((h) => existsSync(path.join(h, cgroup))).map((h) => `cgroup ${path.join(h, cgroup)}`),
    ...dirs.filter((d) => existsSync(d)).map((d) => `folder ${d}`),
  ];
}

describe('upstream [sig-network] Services [Conformance] on netns clusters: kube-proxy, then kpng iptables and nft (IPv4)', () => {
  const clusterIds = new Set<string>();
  const expected = new Map<string, string[]>();
  let child: ChildProcess | undefined;
  let exitCode: number | null = null;
  let verdict: ConformanceVerdict | undefined;
  const v = () => verdict ?? expect.unreachable('the runs were read in beforeAll');

  beforeAll(async () => {
    // The selection each backend runs, composed and verified as kpng-harness e2e does it.
    const { 'e2e.test': e2eTest } = requireK8sBinaries(['e2e.test', 'ginkgo', 'kubectl']);
    const suites = await readSuites(path.join(repoRoot, 'e2e/skips.yaml'), 'e2e/skips.yaml');
    const specs = await listSpecs(e2eTest);
    for (const backend of CONFORMANCE_BACKENDS) {
      const selection = narrowSelection(verifySelection(composeSelection(suites, backend as Backend, 'ipv4'), specs), CONFORMANCE_FOCUS, specs);
      expected.set(backend, selection.selected.map((s) => s.text));
    }
    await rm(results, { recursive: true, force: true });
    await mkdir(results, { recursive: true });
    const args = conformanceE2eArgs({ results, ginkgoNodes: GINKGO_NODES, timeout: SUITE_TIMEOUT });
    log(`==> e2e tier: ${[...expected].map(([b, s]) => `${b} ${s.length}`).join(', ')} specs matching ${CONFORMANCE_FOCUS}; node harness/cli.ts ${args.join(' ')}`);
    const started = Date.now();
    const run = await runHarness(args, clusterIds, (c) => (child = c));
    exitCode = run.exitCode;
    child = undefined;
    await writeFile(path.join(results, 'harness-stdout.md'), run.stdout);
    const runs = await Promise.all(CONFORMANCE_BACKENDS.map((b) => readRun(b, expected.get(b) ?? [])));
    verdict = conformanceVerdict(runs);
    const counts = verdict.counts.map((c) => `${c.backend} ${c.passed} passed, ${c.failed} failed of ${c.selected}`).join('; ');
    log(`==> e2e tier: ${counts} in ${((Date.now() - started) / 1000).toFixed(0)} s (kpng-harness exited with ${exitCode})`);
    if (verdict.controlFailed.length > 0) log(`==> kube-proxy (the control) failed ${verdict.controlFailed.length}: ${verdict.controlFailed.join('; ')}`);
    log(`==> JUnit: ${CONFORMANCE_BACKENDS.map((b) => path.join(results, `ipv4-${b}`, 'junit*.xml')).join(', ')}; parity report: ${path.join(results, 'parity.md')}, parity.html`);
  });

  afterAll(async () => {
    // Cut short (a timeout, a failed hook): let kpng-harness stop its cluster (SIGTERM), then stop any cluster still there.
    const running = child;
    if (running?.pid !== undefined && running.exitCode === null && running.signalCode === null) {
      const below = descendants(running.pid);
      const closed = new Promise((resolve) => running.once('close', resolve));
      running.kill('SIGTERM');
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 120_000))]);
      if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
      // Only the very processes seen below it (same pid and start time), not a pid reused since.
      for (const p of below.filter((b) => procStat(b.pid)?.start === b.start)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    for (const id of clusterIds) {
      const stateFile = path.join(DEFAULT_DATA_DIR, id, 'state.json');
      if (!existsSync(stateFile)) continue;
      log(`==> netns cluster ${id} is still there: stopping it`);
      await stopCluster(JSON.parse(await readFile(stateFile, 'utf8')) as ClusterState, { log: (line) => log(`    ${line}`) });
    }
  }, 300_000);

  it('ran every selected spec on every backend (none missing from JUnit, none skipped at run time)', () => {
    expect(v().notRun).toEqual([]);
    expect(v().counts.map((c) => c.passed + c.failed)).toEqual(v().counts.map((c) => c.selected));
  });

  it('kpng iptables and nft pass every spec kube-proxy passed (parity)', () => {
    expect(v().parity).toEqual([]);
  });

  it('leaves no netns cluster behind: namespaces, mounts, cgroups, folders', async () => {
    expect(clusterIds.size).toBe(CONFORMANCE_BACKENDS.length);
    const left = [];
    for (const id of clusterIds) left.push(...(await leftovers(id)));
    expect(left).toEqual([]);
  });
});
