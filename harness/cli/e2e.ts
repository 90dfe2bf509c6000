// make e2e, make e2e-<family>-<backend>, make e2e-selection: the upstream suite per
// backend × family. Every selection is verified against the real spec list before any
// cluster is made; the runs end in one parity report. The clusters are kind's where a
// Docker engine answers, otherwise netns clusters (kubelet + containerd in network
// namespaces, root; --family ipv4 unless asked); --cluster netns|kind chooses. `kube-proxy` (upstream, deployed
// as kubeadm does) is a backend too: the reference column.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KpngError, KUBE_PROXY_BACKEND, backendNames, proxyBackend, deploymentModels, ipFamilies, tiltEnvDefaults, type Backend, type DeploymentModel, type IpFamily } from '../config/index.ts';
import { findOnPath, hostToolRunner, requireTools } from '../cluster/index.ts';
import { ensureKpngImage, type NetnsCluster } from '../cluster/netns/index.ts';
import { renderDocuments } from '../manifests/index.ts';
import {
  SelectionError,
  composeSelection,
  describeEntry,
  listSpecs,
  readSuites,
  requireK8sBinaries,
  runE2e,
  runNetnsE2e,
  narrowSelection,
  skipNotesFrom,
  verifySelection,
  type Spec,
  type Suites,
  type VerifiedSelection,
} from '../e2e/index.ts';
import { k8sVersion, repoRoot } from '../k8s-binaries.ts';
import { parityReport, readParityRuns, writeParityReport } from '../report/index.ts';
import { parseOptions, usageError, type OptionSpecs, type OptionValues } from './args.ts';
import type { CliContext } from './context.ts';
import { buildImage } from './image.ts';
import { offeredBackends } from './offered.ts';

const matrixOptions = {
  backend: {
    type: 'string',
    multiple: true,
    /** The backends the proxy offers (`kpng backends --json`), asked only when needed. */
    get choices(): readonly string[] {
      return [KUBE_PROXY_BACKEND, ...backendNames()];
    },
    description: 'only this backend (default: every one the proxy offers); kube-proxy: upstream kube-proxy, the reference',
  },
  family: { type: 'string', multiple: true, choices: ipFamilies, description: 'only this IP family (default: every one)' },
  suites: { type: 'string', default: 'e2e/skips.yaml', description: 'the suites file, relative to the repository' },
} as const satisfies OptionSpecs;

export const selectionOptions = {
  ...matrixOptions,
  show: { type: 'boolean', default: false, description: 'print the composed --focus and --skip and what each skip entry leaves out' },
  list: { type: 'boolean', default: false, description: 'print the name of every spec each selection runs' },
} as const satisfies OptionSpecs;

export const e2eOptions = {
  ...matrixOptions,
  model: { type: 'string', choices: deploymentModels, default: 'single-process-per-node', description: 'the deployment model' },
  image: { type: 'string', default: tiltEnvDefaults.image, description: 'the proxy image (built first unless --skip-build)' },
  'skip-build': { type: 'boolean', default: false, description: 'use the image as it is in docker' },
  nodes: { type: 'string', default: '8', description: 'parallel ginkgo processes' },
  results: { type: 'string', default: 'reports/e2e', description: 'results folder (JUnit, logs, the parity report)' },
  'keep-cluster': { type: 'boolean', default: false, description: 'keep each cluster after its run' },
  cluster: { type: 'string', choices: ['auto', 'kind', 'netns'], default: 'auto', description: 'kind (needs Docker), netns (no Docker, root; ipv4 unless --family says), or auto: kind where a Docker engine answers' },
  'cluster-nodes': { type: 'string', default: '3', description: 'nodes of each netns cluster' },
  focus: { type: 'string', description: 'only the selected specs this regular expression matches too (e.g. "basic endpoint|functioning NodePort")' },
  timeout: { type: 'string', default: '3h', description: "ginkgo's suite timeout (e.g. 30m): the specs still running then are reported as interrupted" },
} as const satisfies OptionSpecs;

interface Combination {
  backend: Backend;
  family: IpFamily;
}

function combinations(o: { backend: string[] | undefined; family: string[] | undefined }): Combination[] {
  const chosenBackends: Backend[] = o.backend?.length ? o.backend : backendNames();
  const chosenFamilies = (o.family?.length ? o.family : ipFamilies) as IpFamily[];
  return chosenFamilies.flatMap((family) => chosenBackends.map((backend) => ({ backend, family })));
}

/** Read the suites and the spec list, and verify every combination's selection (all problems at once). */
async function verifiedSelections(ctx: CliContext, suitesFile: string, chosen: readonly Combination[]) {
  const { 'e2e.test': e2eTest } = requireK8sBinaries(['e2e.test']);
  const suites = await readSuites(path.resolve(ctx.repo, suitesFile), suitesFile);
  const specs = await listSpecs(e2eTest);
  const selections: VerifiedSelection[] = [];
  const failures: string[] = [];
  for (const { backend, family } of chosen) {
    try {
      selections.push(verifySelection(composeSelection(suites, backend, family), specs));
    } catch (error) {
      if (!(error instanceof SelectionError)) throw error;
      failures.push(`  ${backend}/${family}:`, ...error.problems.map((p) => `    - ${p}`));
    }
  }
  if (failures.length > 0) {
    const head = `${suitesFile} does not give a sound selection (checked against the ${specs.length} specs of e2e.test ${k8sVersion()}):`;
    throw new KpngError('KPNG_ERR_E2E_SELECTION', [head, ...failures].join('\n'));
  }
  return { suites, specs, selections };
}

function selectionTable(selections: readonly VerifiedSelection[]): string {
  const rows = [['backend', 'family', 'focused', 'skipped', 'run'], ...selections.map((s) => [s.backend, s.family, String(s.focused), String(s.focused - s.selected.length), String(s.selected.length)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export async function e2eSelection(args: readonly string[], ctx: CliContext): Promise<number> {
  const o = parseOptions('e2e-selection', args, selectionOptions);
  const { specs, selections } = await verifiedSelections(ctx, o.suites ?? 'e2e/skips.yaml', combinations(o));
  const lines = [`e2e selections from ${o.suites}, verified against the ${specs.length} specs of e2e.test ${k8sVersion()}:`, selectionTable(selections)];
  for (const s of selections) {
    if (o.show) {
      lines.push('', `${s.backend}/${s.family}:`, `  --focus=${s.focus}`, `  --skip=${s.skip}`);
      for (const { entry, skips } of s.skipCounts) lines.push(`  ${String(skips).padStart(4)} skipped by ${describeEntry(entry)}`);
    }
    if (o.list) lines.push('', `${s.backend}/${s.family} runs ${s.selected.length} specs:`, ...s.selected.map((spec: Spec) => `  ${spec.text}`));
  }
  ctx.out(`${lines.join('\n')}\n`);
  return 0;
}

function reportFor(suites: Suites | undefined, on: 'kind' | 'netns' = 'kind') {
  return { subtitle: `Kubernetes ${k8sVersion()} e2e.test on ${on === 'kind' ? 'kind' : 'netns clusters (no Docker)'}`, ...(suites ? { skipNote: skipNotesFrom(suites) } : {}) };
}

/** Whether a Docker engine answers here (kind needs one). */
async function dockerAnswers(env: NodeJS.ProcessEnv): Promise<boolean> {
  const docker = findOnPath('docker', env);
  if (docker === undefined) return false;
  return (await hostToolRunner(docker, ['info', '--format', '{{.ServerVersion}}'], { env, output: 'capture', timeoutMs: 20_000 })).exitCode === 0;
}

export async function e2e(args: readonly string[], ctx: CliContext): Promise<number> {
  const o = parseOptions('e2e', args, e2eOptions);
  const nodes = Number(o.nodes);
  if (!Number.isInteger(nodes) || nodes < 1) throw usageError(`e2e: --nodes ${JSON.stringify(o.nodes)} is not a whole number ≥ 1`);
  const clusterKind = o.cluster === 'auto' || o.cluster === undefined ? ((await dockerAnswers(ctx.env)) ? 'kind' : 'netns') : o.cluster;
  if (clusterKind === 'netns') return e2eNetns(o, nodes, ctx);
  await requireTools(['docker', 'kind', 'kubectl'], { env: ctx.env });
  const binaries = requireK8sBinaries(['e2e.test', 'ginkgo']);
  if (o.backend?.includes(KUBE_PROXY_BACKEND)) throw usageError('e2e: the kube-proxy column runs on netns clusters (--cluster netns); kind clusters here run without kube-proxy');
  const chosen = combinations({ ...o, backend: await offeredBackends(o.backend as Backend[] | undefined, ctx.log) });
  const { suites, specs, selections: verified } = await verifiedSelections(ctx, o.suites ?? 'e2e/skips.yaml', chosen);
  const selections = o.focus ? verified.map((s) => narrowSelection(s, o.focus!, specs)) : verified;
  ctx.log(`==> e2e selections (verified):\n${selectionTable(selections)}`);
  const image = o.image ?? tiltEnvDefaults.image;
  if (!o['skip-build']) await buildImage(image, ctx);
  const resultsDir = path.resolve(ctx.cwd, o.results ?? 'reports/e2e');
  const failed: string[] = [];
  for (const selection of selections) {
    const result = await runE2e({
      backend: selection.backend,
      family: selection.family,
      model: (o.model ?? 'single-process-per-node') as DeploymentModel,
      image,
      selection,
      binaries: { ginkgo: binaries.ginkgo, e2eTest: binaries['e2e.test'] },
      resultsDir,
      nodes,
      keepCluster: o['keep-cluster'],
      cluster: { env: ctx.env, log: ctx.log },
    });
    if (!result.passed) failed.push(`${selection.backend}/${selection.family}${result.error ? ` (${result.error.message.split('\n')[0]})` : ''}${result.logsDir ? `, logs in ${result.logsDir}` : ''}`);
  }
  await writeReport(resultsDir, suites, ctx).catch((error: unknown) => ctx.log(`==> no parity report: ${(error as Error).message}`));
  if (failed.length > 0) {
    ctx.log(`==> failed: ${failed.join('; ')}`);
    return 1;
  }
  return 0;
}

type E2eOptions = OptionValues<typeof e2eOptions>;

/**
 * How a kpng backend is deployed on a netns cluster: the kpng image written without a
 * daemon (harness/cluster/netns/kpng-image.ts) imported into every node, and the DaemonSet
 * harness/manifests renders for the backend × family × model, as on kind.
 */
async function kpngDeployer(backend: Backend, family: IpFamily, model: DeploymentModel, ctx: CliContext): Promise<(cluster: NetnsCluster, runDir: string) => Promise<void>> {
  const image = await ensureKpngImage(path.join(repoRoot, '.cache/netns-cluster/images'), { log: (line) => ctx.log(`    ${line}`) });
  return async (cluster, runDir) => {
    await cluster.importImage(image);
    // The nodes share this host's kernel: a backend hooking a cgroup's sockets gets each node's cgroup2 directory and a state folder of the node's own.
    const { scope } = proxyBackend(backend);
    const nodeScope = scope.kind === 'cgroup' ? await cluster.nodeScope(scope.stateFlag.under) : undefined;
    const documents = renderDocuments({ backend, family, model, image: image.name, apiServer: cluster.server, ...(nodeScope && { nodeScope }) });
    const manifests = path.join(runDir, 'manifests.yaml');
    await writeFile(manifests, documents.map((d) => d.yaml).join('---\n'));
    const applied = await cluster.kubectl(['apply', '-f', manifests], { timeoutMs: 60_000 });
    if (applied.exitCode !== 0) throw new KpngError('KPNG_ERR_COMMAND_FAILED', `kubectl apply -f ${manifests}: ${applied.stderr.trim()}`);
    const daemonSet = documents.find((d) => d.kind === 'DaemonSet');
    await cluster.waitForDaemonSet(daemonSet?.namespace ?? 'kpng-system', daemonSet?.name ?? 'kpng');
  };
}

/** The e2e runs on netns clusters: per family asked (default IPv4), kube-proxy first (the reference column), then the kpng backends asked for. */
async function e2eNetns(o: E2eOptions, nodes: number, ctx: CliContext): Promise<number> {
  if (process.getuid?.() !== 0) throw new KpngError('KPNG_ERR_NOT_ROOT', 'e2e on a netns cluster makes network namespaces, cgroups and mounts: run it as root (or use --cluster kind with Docker)', { exitCode: 2 });
  const clusterNodes = Number(o['cluster-nodes']);
  if (!Number.isInteger(clusterNodes) || clusterNodes < 1) throw usageError(`e2e: --cluster-nodes ${JSON.stringify(o['cluster-nodes'])} is not a whole number ≥ 1`);
  const families = (o.family?.length ? [...new Set(o.family)] : ['ipv4']) as IpFamily[];
  const binaries = requireK8sBinaries(['e2e.test', 'ginkgo', 'kubectl']);
  const requested = o.backend?.length ? o.backend : [KUBE_PROXY_BACKEND];
  const asked = requested.filter((b) => b !== KUBE_PROXY_BACKEND);
  const kpngBackends = asked.length > 0 ? await offeredBackends(asked as Backend[], ctx.log) : [];
  const backends = [...(requested.includes(KUBE_PROXY_BACKEND) ? [KUBE_PROXY_BACKEND] : []), ...kpngBackends];
  const chosen = families.flatMap((family) => backends.map((backend) => ({ backend, family })));
  const { suites, specs, selections: verified } = await verifiedSelections(ctx, o.suites ?? 'e2e/skips.yaml', chosen);
  const selections = o.focus ? verified.map((s) => narrowSelection(s, o.focus!, specs)) : verified;
  ctx.log(`==> e2e selections (verified) for netns clusters of ${clusterNodes} nodes:\n${selectionTable(selections)}`);
  const resultsDir = path.resolve(ctx.cwd, o.results ?? 'reports/e2e');
  const failed: string[] = [];
  for (const selection of selections) {
    const deployProxy = selection.backend === KUBE_PROXY_BACKEND ? undefined : await kpngDeployer(selection.backend, selection.family, (o.model ?? 'single-process-per-node') as DeploymentModel, ctx);
    const result = await runNetnsE2e({
      backend: selection.backend,
      family: selection.family,
      selection,
      binaries: { ginkgo: binaries.ginkgo, e2eTest: binaries['e2e.test'], kubectl: binaries.kubectl },
      resultsDir,
      nodes,
      clusterNodes,
      keepCluster: o['keep-cluster'],
      timeout: o.timeout ?? '3h',
      log: ctx.log,
      ...(deployProxy ? { deployProxy } : {}),
    });
    const t = result.seconds;
    ctx.log(`==> ${selection.backend}/${selection.family}: cluster ${t.clusterUp?.toFixed(0) ?? '?'} s, proxy + CoreDNS ${t.proxy?.toFixed(0) ?? '?'} s, specs ${t.specs?.toFixed(0) ?? '?'} s`);
    if (!result.passed) failed.push(`${selection.backend}/${selection.family}${result.error ? ` (${result.error.message.split('\n')[0]})` : ''}, logs in ${result.runDir}`);
  }
  await writeReport(resultsDir, suites, ctx, 'netns').catch((error: unknown) => ctx.log(`==> no parity report: ${(error as Error).message}`));
  if (failed.length > 0) {
    ctx.log(`==> failed: ${failed.join('; ')}`);
    return 1;
  }
  return 0;
}

async function writeReport(resultsDir: string, suites: Suites | undefined, ctx: CliContext, on: 'kind' | 'netns' = 'kind'): Promise<void> {
  const { runs } = await readParityRuns(resultsDir);
  const report = parityReport(runs, reportFor(suites, on));
  const written = await writeParityReport(report, { dir: resultsDir, ...(ctx.env.GITHUB_STEP_SUMMARY ? { summaryFile: ctx.env.GITHUB_STEP_SUMMARY } : {}) });
  ctx.out(report.markdown);
  ctx.log(`==> parity report: ${written.markdownFile}, ${written.htmlFile}${written.summaryFile ? `, and the job summary` : ''}`);
}

export const reportOptions = {
  results: { type: 'string', default: 'reports/e2e', description: 'the results folder: <family>-<backend>/junit*.xml' },
  suites: { type: 'string', default: 'e2e/skips.yaml', description: 'the suites file, for why specs were skipped' },
} as const satisfies OptionSpecs;

/** The parity report from a results folder (e.g. CI's downloaded artifacts). */
export async function report(args: readonly string[], ctx: CliContext): Promise<number> {
  const o = parseOptions('report', args, reportOptions);
  const suites = await readSuites(path.resolve(ctx.repo, o.suites ?? 'e2e/skips.yaml'), o.suites);
  await writeReport(path.resolve(ctx.cwd, o.results ?? 'reports/e2e'), suites, ctx);
  return 0;
}
