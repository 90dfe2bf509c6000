// A lab run: one control plane shared by every backend × family asked for; for each,
// a lab, the specs, JUnit and the proxies' logs in <reportDir>/<family>-<backend>/; at
// the end the parity report (harness/report, as for the upstream e2e runs) on the
// terminal and as parity.md / parity.html.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Backend, DeploymentModel, IpFamily } from '../../config/index.ts';
import { skipNotesFrom, type Suites } from '../../e2e/index.ts';
import { Lab, liveLabList, startLabControlPlane } from '../cluster/index.ts';
import type { ControlPlane } from '../control-plane/index.ts';
import { junitXml } from './junit.ts';
import { parityReport, writeParityReport } from '../../report/index.ts';
import { runSpecs, type SpecResult } from './runner.ts';
import { labSkipsFrom } from './skips.ts';
import type { LabSpec } from './spec.ts';

export interface LabRunOptions {
  backends: readonly Backend[];
  families: readonly IpFamily[];
  nodes?: number;
  model?: DeploymentModel;
  specs: readonly LabSpec[];
  focus?: RegExp;
  skip?: RegExp;
  /** e2e/skips.yaml: its skip entries for each backend × family leave the lab specs of those texts out of that run. */
  suites?: Suites;
  /** Where JUnit, logs and the matrix go. */
  reportDir: string;
  out?: (line: string) => void;
  verbose?: boolean;
  signal?: AbortSignal;
  color?: boolean;
  /** Specs at a time (default 1). */
  parallel?: number;
  /** Deadline of the specs' waits for convergence (default 30 s). */
  lagTimeoutMs?: number;
}

export interface LabRunOutcome {
  backend: Backend;
  family: IpFamily;
  results: SpecResult[];
  junitFile: string;
  /** The JUnit text written there. */
  junit: string;
  /** Set when the lab itself could not start. */
  setupError?: string;
}

export interface LabRunSummary {
  runs: LabRunOutcome[];
  markdown: string;
  markdownFile: string;
  htmlFile: string;
  /** Every spec of every run passed or was skipped, and every lab started. */
  ok: boolean;
}

/** The folder of one run's files (the layout harness/report reads: <family>-<backend>). */
export function runDir(reportDir: string, family: string, backend: string): string {
  return path.join(reportDir, `${family}-${backend}`);
}

const liveControlPlanes = new Set<ControlPlane>();

/** Removes every lab and control plane this process still runs (for Ctrl-C). */
export async function teardownEverything(): Promise<void> {
  await Promise.allSettled(liveLabList().map((lab) => lab.destroy()));
  await Promise.allSettled([...liveControlPlanes].map(async (cp) => {
    await cp.stop();
    liveControlPlanes.delete(cp);
  }));
}

/** Removes the run folders and matrix an earlier run left in the report folder (only files this module writes). */
async function clearReportDir(reportDir: string): Promise<void> {
  await mkdir(reportDir, { recursive: true });
  for (const entry of await readdir(reportDir, { withFileTypes: true })) {
    if (entry.isDirectory() && /^(ipv4|ipv6|dual)-[a-z]+$/.test(entry.name)) await rm(path.join(reportDir, entry.name), { recursive: true, force: true });
    if (entry.isFile() && /^parity\.(md|html)$/.test(entry.name)) await rm(path.join(reportDir, entry.name), { force: true });
  }
}

export async function runLab(opts: LabRunOptions): Promise<LabRunSummary> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const model = opts.model ?? 'single-process-per-node';
  await clearReportDir(opts.reportDir);
  const base = await mkdtemp(path.join(tmpdir(), 'kpng-lab-cp-'));
  const started = Date.now();
  out(`>> control plane (etcd + kube-apiserver, dual-stack Service CIDRs)`);
  let controlPlane: ControlPlane | undefined;
  const runs: LabRunOutcome[] = [];
  try {
    controlPlane = await startLabControlPlane({ baseDir: base });
    liveControlPlanes.add(controlPlane);
    out(`   ready in ${((Date.now() - started) / 1000).toFixed(1)}s at ${controlPlane.server}, files in ${controlPlane.dir}`);
    for (const backend of opts.backends) {
      for (const family of opts.families) {
        if (opts.signal?.aborted) break;
        runs.push(await runOne({ ...opts, backend, family, model, controlPlane, out }));
      }
    }
  } finally {
    if (controlPlane) {
      await controlPlane.stop();
      liveControlPlanes.delete(controlPlane);
    }
    await rm(base, { recursive: true, force: true });
  }
  const report = parityReport(
    runs.map((run) => ({ backend: run.backend, family: run.family, junit: run.junit, files: [run.junitFile] })),
    {
      title: 'kpng lab: parity with the sig-network specs',
      subtitle: `docker-free lab, ${opts.nodes ?? 3} nodes, ${model}`,
      generatedAt: new Date(),
      ...(opts.suites && { skipNote: skipNotesFrom(opts.suites, 'lab') }),
    },
  );
  const files = await writeParityReport(report, { dir: opts.reportDir, ...(process.env.GITHUB_STEP_SUMMARY && { summaryFile: process.env.GITHUB_STEP_SUMMARY }) });
  out('');
  out(report.markdown);
  out(`JUnit, proxy logs and the report: ${opts.reportDir} (${path.basename(files.markdownFile)}, ${path.basename(files.htmlFile)}); ${((Date.now() - started) / 1000).toFixed(0)}s in all`);
  const ok = runs.length === opts.backends.length * opts.families.length && runs.every((run) => !run.setupError && run.results.every((r) => r.status !== 'failed'));
  return { runs, markdown: report.markdown, ...files, ok };
}

async function runOne(o: LabRunOptions & { backend: Backend; family: IpFamily; model: DeploymentModel; controlPlane: ControlPlane; out: (line: string) => void }): Promise<LabRunOutcome> {
  const dir = runDir(o.reportDir, o.family, o.backend);
  await mkdir(dir, { recursive: true });
  const t0 = Date.now();
  o.out('');
  o.out(`== ${o.backend} / ${o.family} (${o.nodes ?? 3} nodes, ${o.model})`);
  let lab: Lab | undefined;
  let results: SpecResult[];
  let setupError: string | undefined;
  try {
    lab = await Lab.start({ backend: o.backend, family: o.family, model: o.model, controlPlane: o.controlPlane, ...(o.nodes !== undefined && { nodes: o.nodes }), log: (line) => o.out(`   ${line}`) });
    o.out(`   lab ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    results = await runSpecs(lab, o.specs, {
      out: o.out,
      ...(o.focus && { focus: o.focus }),
      ...(o.skip && { skip: o.skip }),
      ...(o.suites && { skipReason: labSkipsFrom(o.suites, o.backend, o.family) }),
      ...(o.verbose !== undefined && { verbose: o.verbose }),
      ...(o.signal && { signal: o.signal }),
      ...(o.color !== undefined && { color: o.color }),
      ...(o.parallel !== undefined && { parallel: o.parallel }),
      ...(o.lagTimeoutMs !== undefined && { lagTimeoutMs: o.lagTimeoutMs }),
      diagnosticsDir: path.join(dir, 'failures'),
    });
  } catch (error) {
    setupError = (error as Error).message;
    o.out(`   the lab did not start: ${setupError}`);
    const selected = o.focus ? o.specs.filter((s) => o.focus?.test(s.id) || o.focus?.test(s.upstream)) : o.specs;
    const skipReason = o.suites && labSkipsFrom(o.suites, o.backend, o.family);
    results = selected.map((s): SpecResult => {
      const skipped = skipReason?.(s);
      const base = { id: s.id, upstream: s.upstream, source: s.source, durationMs: 0 };
      return skipped ? { ...base, status: 'skipped', message: skipped } : { ...base, status: 'failed', message: `the lab did not start: ${setupError}` };
    });
  } finally {
    if (lab) {
      await lab.saveLogs(dir).catch((error: unknown) => o.out(`   could not save the proxy logs: ${String(error)}`));
      await lab.destroy();
    }
  }
  const junitFile = path.join(dir, 'junit_lab.xml');
  const xml = junitXml({ backend: o.backend, family: o.family, model: o.model, results, timestamp: new Date(t0) });
  await writeFile(junitFile, xml);
  const passed = results.filter((r) => r.status === 'passed').length;
  const failed = results.filter((r) => r.status === 'failed').length;
  const skipped = results.filter((r) => r.status === 'skipped').length;
  o.out(`   ${o.backend}/${o.family}: ${passed} passed, ${failed} failed, ${skipped} skipped in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return { backend: o.backend, family: o.family, results, junitFile, junit: xml, ...(setupError && { setupError }) };
}
