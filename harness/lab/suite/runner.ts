// Runs lab specs one after the other against a running lab: a namespace per spec, a line
// of progress per spec, everything the spec made removed after it, and a result per spec.
import path from 'node:path';
import type { Lab } from '../cluster/index.ts';
import { saveDiagnostics } from './diagnostics.ts';
import type { SkipReasonFor } from './skips.ts';
import { SpecContext, unmetRequirement, type LabSpec, type SpecHooks } from './spec.ts';

export type SpecStatus = 'passed' | 'failed' | 'skipped';

export interface SpecResult {
  id: string;
  upstream: string;
  source: string;
  status: SpecStatus;
  durationMs: number;
  /** Why it failed or was skipped. */
  message?: string;
}

export interface RunSpecsOptions {
  /** Only specs whose id or upstream name matches. */
  focus?: RegExp;
  /** Leave out specs whose id or upstream name matches (reported as skipped). */
  skip?: RegExp;
  /** Why a spec is left out of this run (e2e/skips.yaml, see labSkipsFrom), or undefined to run it; reported as skipped with that reason. */
  skipReason?: SkipReasonFor;
  /** Progress lines (default: stdout). */
  out?: (line: string) => void;
  /** Also print what specs log. */
  verbose?: boolean;
  /** Stops before the next spec once aborted; the specs not run are not reported. */
  signal?: AbortSignal;
  /** A spec running longer fails (default 180 s). */
  specTimeoutMs?: number;
  /** Colours in the progress lines (default: when stdout is a terminal). */
  color?: boolean;
  /** Deadline of the specs' waits for convergence (default 30 s, the upstream KubeProxyEndpointLagTimeout). */
  lagTimeoutMs?: number;
  hooks?: SpecHooks;
  /** How many specs run at the same time (default 1). */
  parallel?: number;
  /** Where a failed spec's node state goes (`<dir>/<spec id>/`); none when unset. */
  diagnosticsDir?: string;
}

const paint = (on: boolean) => (code: number, text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text);

function matches(spec: LabSpec, re: RegExp | undefined): boolean {
  return re !== undefined && (re.test(spec.id) || re.test(spec.upstream));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function withTimeout<T>(run: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${seconds(ms)}`)), ms);
  });
  return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
}

export async function runSpecs(lab: Lab, specs: readonly LabSpec[], opts: RunSpecsOptions = {}): Promise<SpecResult[]> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const color = paint(opts.color ?? process.stdout.isTTY === true);
  const selected = opts.focus ? specs.filter((spec) => matches(spec, opts.focus)) : [...specs];
  const results: (SpecResult | undefined)[] = new Array(selected.length);
  const width = String(selected.length).length;

  const runOne = async (spec: LabSpec, i: number): Promise<void> => {
    const counter = `[${String(i + 1).padStart(width)}/${selected.length}]`;
    const base = { id: spec.id, upstream: spec.upstream, source: spec.source };
    const unmet = matches(spec, opts.skip)
      ? 'left out by --skip'
      : (opts.skipReason?.(spec) ?? unmetRequirement(spec, { family: lab.family, nodes: lab.nodes, bridgeNetfilter: lab.topology.bridgeNetfilter }));
    if (unmet) {
      results[i] = { ...base, status: 'skipped', durationMs: 0, message: unmet };
      out(`${counter} ${color(33, '-')} ${spec.id} ${color(33, `skipped: ${unmet}`)}`);
      return;
    }
    const namespace = `s${String(i + 1).padStart(2, '0')}`;
    const started = Date.now();
    let failure: string | undefined;
    try {
      await lab.api.ensureNamespace(namespace);
      const ctx = new SpecContext(lab, namespace, (line) => opts.verbose && out(`        ${color(90, `${spec.id}: ${line}`)}`), {
        ...(opts.lagTimeoutMs !== undefined && { lagTimeoutMs: opts.lagTimeoutMs }),
        ...(opts.hooks && { hooks: opts.hooks }),
      });
      await withTimeout(spec.run(ctx), opts.specTimeoutMs ?? 180_000, `spec ${spec.id}`);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      if (opts.diagnosticsDir) {
        const dir = await saveDiagnostics(lab, path.join(opts.diagnosticsDir, spec.id), namespace).catch(() => undefined);
        if (dir) failure += `\n(node state at the failure: ${dir})`;
      }
    }
    try {
      await lab.workloads.deleteAll(namespace);
    } catch (error) {
      failure ??= `cleaning up after the spec failed: ${(error as Error).message}`;
    }
    const durationMs = Date.now() - started;
    if (failure === undefined) {
      results[i] = { ...base, status: 'passed', durationMs };
      out(`${counter} ${color(32, '✓')} ${spec.id} ${color(90, `${seconds(durationMs)}  ${spec.upstream}`)}`);
    } else {
      results[i] = { ...base, status: 'failed', durationMs, message: failure };
      out(`${counter} ${color(31, '✗')} ${spec.id} ${color(90, `${seconds(durationMs)}  ${spec.upstream}`)}`);
      out(failure.replace(/^/gm, '        '));
    }
  };

  // A few specs at a time, as ginkgo runs upstream specs on several nodes: each has its own
  // namespace, pods and addresses. Slow specs start first, so that none is left running
  // alone at the end; results keep the specs' order.
  const order = selected.map((spec, i) => ({ spec, i })).sort((a, b) => Number(b.spec.slow ?? false) - Number(a.spec.slow ?? false) || a.i - b.i);
  let next = 0;
  const worker = async () => {
    while (next < order.length && !opts.signal?.aborted) {
      const { spec, i } = order[next++]!;
      await runOne(spec, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.parallel ?? 1, selected.length)) }, worker));
  return results.filter((r): r is SpecResult => r !== undefined);
}
