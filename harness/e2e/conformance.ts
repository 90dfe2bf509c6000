// The conformance tier (make test-e2e, part of make test): the upstream `[sig-network]
// Services ... [Conformance]` specs on IPv4 netns clusters, upstream kube-proxy first (the
// control) and then kpng's iptables and nft backends, through `kpng-harness e2e --cluster
// netns`, the command `make e2e cluster=netns` runs. Pure: what to run, and the verdict
// from the runs' JUnit.
import type { JUnitCase } from '../report/index.ts';
import { KUBE_PROXY_BACKEND } from '../config/index.ts';

/** ginkgo's --focus for the tier: narrows each backend's selection (e2e/skips.yaml) to these specs. */
export const CONFORMANCE_FOCUS = String.raw`\[sig-network\] Services .*\[Conformance\]`;

/** The control first: its column is what parity is measured against. */
export const CONFORMANCE_BACKENDS = [KUBE_PROXY_BACKEND, 'iptables', 'nft'] as const;

/** The kpng-harness e2e arguments for the tier (what `make e2e cluster=netns b=<backend> focus=<focus>` gives, for every backend in one call). */
export function conformanceE2eArgs(o: { results: string; ginkgoNodes: number; timeout: string }): string[] {
  return [
    'e2e',
    '--cluster',
    'netns',
    ...CONFORMANCE_BACKENDS.flatMap((b) => ['--backend', b]),
    '--family',
    'ipv4',
    '--focus',
    CONFORMANCE_FOCUS,
    '--nodes',
    String(o.ginkgoNodes),
    '--timeout',
    o.timeout,
    '--results',
    o.results,
  ];
}

export interface ConformanceRun {
  backend: string;
  /** The specs the run's verified selection holds (what ginkgo was asked to run). */
  expected: readonly string[];
  /** The run's JUnit cases; undefined when the run left no JUnit. */
  cases: readonly JUnitCase[] | undefined;
  /** Where the JUnit is (for the messages). */
  where: string;
}

export interface ConformanceVerdict {
  /** Each a sentence naming the backend and the spec: a selected spec that did not run (or a run that could not: no JUnit, a failed setup node, an empty selection). */
  notRun: string[];
  /** Each a sentence naming the kpng backend and a spec the control passed and it did not. */
  parity: string[];
  /** Per backend: passed, failed, and specs selected. */
  counts: { backend: string; passed: number; failed: number; selected: number }[];
  /** Specs the control itself failed (not a parity break: reported, not asserted). */
  controlFailed: string[];
}

const firstLine = (text: string | undefined) => (text ?? '').split('\n')[0]?.slice(0, 200) ?? '';

/**
 * The tier's verdict: every selected spec ran (present in JUnit, passed or failed, not
 * skipped at run time) on every backend, no setup node (BeforeSuite, ...) failed, and each
 * kpng backend passed every spec the control (`runs[0]`, kube-proxy) passed.
 */
export function conformanceVerdict(runs: readonly ConformanceRun[]): ConformanceVerdict {
  const notRun: string[] = [];
  const parity: string[] = [];
  const counts: ConformanceVerdict['counts'] = [];
  const passedBy = new Map<string, Set<string>>();
  for (const run of runs) {
    if (run.expected.length === 0) notRun.push(`${run.backend}: the selection holds no spec matching ${CONFORMANCE_FOCUS}`);
    if (run.cases === undefined) {
      notRun.push(`${run.backend}: no JUnit in ${run.where}, so none of its ${run.expected.length} specs ran`);
      counts.push({ backend: run.backend, passed: 0, failed: 0, selected: run.expected.length });
      passedBy.set(run.backend, new Set());
      continue;
    }
    for (const c of run.cases) {
      if (c.kind === 'setup' && c.status === 'failed') notRun.push(`${run.backend}: ${c.name} failed (${firstLine(c.message)})`);
    }
    const specs = new Map(run.cases.filter((c) => c.kind === 'spec').map((c) => [c.name, c]));
    for (const name of run.expected) {
      const c = specs.get(name.trim());
      if (c === undefined) notRun.push(`${run.backend}: did not run "${name}" (not in ${run.where})`);
      else if (c.status === 'skipped') notRun.push(`${run.backend}: "${name}" was skipped at run time (${firstLine(c.message) || c.detail})`);
    }
    const ran = run.expected.map((n) => specs.get(n.trim())).filter((c): c is JUnitCase => c !== undefined && c.status !== 'skipped');
    const passed = new Set(ran.filter((c) => c.status === 'passed').map((c) => c.name));
    passedBy.set(run.backend, passed);
    counts.push({ backend: run.backend, passed: passed.size, failed: ran.length - passed.size, selected: run.expected.length });
  }
  const [control, ...others] = runs;
  const controlPassed = control ? (passedBy.get(control.backend) ?? new Set<string>()) : new Set<string>();
  const controlFailed = control?.cases ? control.expected.filter((n) => control.cases?.some((c) => c.name === n.trim() && c.status === 'failed')) : [];
  for (const run of others) {
    const passed = passedBy.get(run.backend) ?? new Set<string>();
    for (const name of controlPassed) {
      if (passed.has(name)) continue;
      const c = run.cases?.find((x) => x.name === name);
      if (c?.status === 'failed') parity.push(`${run.backend}: failed "${name}", which ${control?.backend} passed (${firstLine(c.message)})`);
      else if (!run.expected.some((n) => n.trim() === name)) parity.push(`${run.backend}: its selection (e2e/skips.yaml) leaves out "${name}", which ${control?.backend} passed`);
      // else: selected but not run, already a problem above.
    }
  }
  return { notRun, parity, counts, controlFailed };
}
