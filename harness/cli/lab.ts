// make lab, make lab-matrix: the lab conformance suite (e2e/lab) in docker-free labs of
// network namespaces, one per backend × family, on one control plane, ending in the
// parity report. The skip entries of e2e/skips.yaml for a backend × family leave the lab
// specs of those texts out of its run, as they leave them out of the upstream runs.
// Ctrl-C (or SIGTERM) removes everything the labs made before exiting.
import path from 'node:path';
import { labSpecs } from '../../e2e/lab/index.ts';
import { KpngError, backendNames, deploymentModels, ipFamilies, type Backend, type DeploymentModel, type IpFamily } from '../config/index.ts';
import { readSuites } from '../e2e/index.ts';
import { labBackends } from '../lab/cluster/index.ts';
import { runLab, teardownEverything } from '../lab/suite/index.ts';
import { parseOptions, usageError, type OptionSpecs } from './args.ts';
import type { CliContext } from './context.ts';
import { offeredBackends } from './offered.ts';

export const labOptions = {
  backend: {
    type: 'string',
    multiple: true,
    /** The backends the proxy offers (`kpng backends --json`), asked only when needed. */
    get choices(): readonly string[] {
      return backendNames();
    },
    description: "only this backend (default: every one the proxy offers that starts on this kernel and that the lab can keep to one node; the others are named with why)",
  },
  family: { type: 'string', multiple: true, choices: ipFamilies, description: 'only this IP family (default: every one)' },
  model: { type: 'string', choices: deploymentModels, default: 'single-process-per-node', description: 'the deployment model' },
  nodes: { type: 'string', default: '3', description: 'node namespaces per lab' },
  parallel: { type: 'string', default: '3', description: 'specs at a time (each has its own namespace, pods and addresses)' },
  focus: { type: 'string', description: 'only specs whose id or upstream name matches this regular expression' },
  skip: { type: 'string', description: 'leave out specs whose id or upstream name matches this regular expression' },
  suites: { type: 'string', default: 'e2e/skips.yaml', description: 'the suites file, relative to the repository: its skip entries for a backend × family leave the lab specs of those texts out' },
  results: { type: 'string', default: 'reports/lab', description: 'results folder (JUnit, proxy logs, failed specs\' node state, the parity report)' },
  verbose: { type: 'boolean', default: false, description: 'also print what the specs log' },
} as const satisfies OptionSpecs;

export interface LabCommand {
  /** undefined: every backend the proxy offers. */
  backends: Backend[] | undefined;
  families: IpFamily[];
  model: DeploymentModel;
  nodes: number;
  parallel: number;
  focus?: RegExp;
  skip?: RegExp;
  /** The suites file (e2e/skips.yaml), relative to the repository. */
  suites: string;
  results: string;
  verbose: boolean;
}

function wholeNumber(name: string, value: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw usageError(`lab: --${name} ${JSON.stringify(value)} is not accepted; accepted: a whole number from 1 to ${max}`);
  return n;
}

function regex(name: string, value: string | undefined): RegExp | undefined {
  if (value === undefined) return undefined;
  try {
    return new RegExp(value);
  } catch (error) {
    throw usageError(`lab: --${name} ${JSON.stringify(value)} is not a regular expression (${(error as Error).message})`);
  }
}

/** The lab command line, checked (KPNG_ERR_USAGE naming what was wrong and what is accepted). */
export function parseLabArgs(args: readonly string[], cwd: string): LabCommand {
  const o = parseOptions('lab', args, labOptions);
  const focus = regex('focus', o.focus);
  const skip = regex('skip', o.skip);
  return {
    backends: o.backend?.length ? ([...new Set(o.backend)] as Backend[]) : undefined,
    families: (o.family?.length ? [...new Set(o.family)] : [...ipFamilies]) as IpFamily[],
    model: (o.model ?? 'single-process-per-node') as DeploymentModel,
    nodes: wholeNumber('nodes', o.nodes ?? '3', 20),
    parallel: wholeNumber('parallel', o.parallel ?? '3', 16),
    ...(focus && { focus }),
    ...(skip && { skip }),
    suites: o.suites ?? 'e2e/skips.yaml',
    results: path.resolve(cwd, o.results ?? 'reports/lab'),
    verbose: o.verbose,
  };
}

export async function lab(args: readonly string[], ctx: CliContext): Promise<number> {
  const cmd = parseLabArgs(args, ctx.cwd);
  if (process.getuid?.() !== 0) throw new KpngError('KPNG_ERR_NOT_ROOT', 'the lab makes network namespaces and rules: run it as root', { exitCode: 2 });
  // Names the proxy does not offer are refused first, then backends the lab cannot keep to one node.
  const offered = labBackends(cmd.backends && (await offeredBackends(cmd.backends)), ctx.log);
  const suites = await readSuites(path.resolve(ctx.repo, cmd.suites), cmd.suites);

  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    controller.abort();
    ctx.log(`\nkpng-harness lab: ${signal}: removing everything the lab made...`);
    void teardownEverything().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await runLab({
      backends: offered,
      families: cmd.families,
      nodes: cmd.nodes,
      model: cmd.model,
      specs: labSpecs,
      ...(cmd.focus && { focus: cmd.focus }),
      ...(cmd.skip && { skip: cmd.skip }),
      suites,
      reportDir: cmd.results,
      verbose: cmd.verbose,
      parallel: cmd.parallel,
      signal: controller.signal,
      out: (line) => ctx.out(`${line}\n`),
    });
    return summary.ok ? 0 : 1;
  } catch (error) {
    // Interrupted: the signal handler removes everything and exits.
    if (interrupted) return new Promise<number>(() => undefined);
    await teardownEverything();
    throw error;
  } finally {
    if (!interrupted) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
