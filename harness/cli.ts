#!/usr/bin/env node
// The `kpng-harness` command. One subcommand so far:
//   kpng-harness lab [--backend iptables[,nft...]|all] [--family ipv4[,dual...]|all] [--nodes 3]
//                    [--model single-process-per-node|split-process-per-node]
//                    [--focus RE] [--skip RE] [--parallel 3] [--report-dir reports/lab] [--verbose]
// Exit codes: 0 every spec passed, 1 a spec failed or a lab did not start, 2 bad usage,
// 130 interrupted (everything the lab made is removed first).
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { labSpecs } from '../e2e/lab/index.ts';
import { backends, deploymentModels, ipFamilies, isBackend, isDeploymentModel, isIpFamily, type Backend, type IpFamily } from './config/index.ts';
import { backendAvailable } from './lab/cluster/index.ts';
import { runLab, teardownEverything } from './lab/suite/index.ts';
import { repoRoot } from './k8s-binaries.ts';

export class UsageError extends Error {
  readonly code = 'KPNG_ERR_USAGE';
}

export interface LabCommand {
  backends: Backend[] | 'all';
  families: IpFamily[];
  nodes: number;
  model: (typeof deploymentModels)[number];
  focus?: RegExp;
  skip?: RegExp;
  reportDir: string;
  verbose: boolean;
  parallel: number;
}

function list<T extends string>(value: string, all: readonly T[], is: (v: string) => v is T, flag: string): T[] {
  if (value === 'all') return [...all];
  const items = value.split(',').map((v) => v.trim()).filter(Boolean);
  const bad = items.filter((v) => !is(v));
  if (bad.length > 0 || items.length === 0) throw new UsageError(`KPNG_ERR_USAGE: --${flag}=${value}: accepted: ${all.join(', ')} (comma-separated), or all`);
  return [...new Set(items)] as T[];
}

function regex(value: string | undefined, flag: string): RegExp | undefined {
  if (value === undefined) return undefined;
  try {
    return new RegExp(value);
  } catch (error) {
    throw new UsageError(`KPNG_ERR_USAGE: --${flag}=${value}: not a regular expression (${(error as Error).message})`, { cause: error });
  }
}

/** Parses `lab` arguments; throws UsageError naming what was wrong and what is accepted. */
export function parseLabArgs(argv: string[]): LabCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        backend: { type: 'string', short: 'b', default: 'iptables' },
        family: { type: 'string', short: 'i', default: 'ipv4' },
        nodes: { type: 'string', default: '3' },
        model: { type: 'string', short: 'm', default: 'single-process-per-node' },
        focus: { type: 'string' },
        skip: { type: 'string' },
        'report-dir': { type: 'string', default: path.join(repoRoot, 'reports/lab') },
        verbose: { type: 'boolean', short: 'v', default: false },
        parallel: { type: 'string', short: 'p', default: '3' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(`KPNG_ERR_USAGE: ${(error as Error).message}`, { cause: error });
  }
  const v = parsed.values;
  const nodes = Number(v.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20) throw new UsageError(`KPNG_ERR_USAGE: --nodes=${v.nodes}: accepted: a whole number from 1 to 20`);
  const parallel = Number(v.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 16) throw new UsageError(`KPNG_ERR_USAGE: --parallel=${v.parallel}: accepted: a whole number from 1 to 16`);
  if (!isDeploymentModel(v.model)) throw new UsageError(`KPNG_ERR_USAGE: --model=${v.model}: accepted: ${deploymentModels.join(', ')}`);
  const focus = regex(v.focus, 'focus');
  const skip = regex(v.skip, 'skip');
  return {
    backends: v.backend === 'all' ? 'all' : list(v.backend, backends, isBackend, 'backend'),
    families: list(v.family, ipFamilies, isIpFamily, 'family'),
    nodes,
    model: v.model,
    ...(focus && { focus }),
    ...(skip && { skip }),
    reportDir: path.resolve(v['report-dir']),
    verbose: v.verbose,
    parallel,
  };
}

const HELP = `kpng-harness: the test-and-conformance harness of kpng

usage: kpng-harness lab [flags]     run the lab conformance suite in a docker-free lab

  --backend, -b  iptables|nft|ipvs|userspace, comma-separated, or all (those the proxy offers); default iptables
  --family, -i   ipv4|ipv6|dual, comma-separated, or all; default ipv4
  --nodes        node namespaces (default 3)
  --model, -m    single-process-per-node (default) | split-process-per-node
  --focus RE     only specs whose id or upstream name matches
  --skip RE      leave out specs whose id or upstream name matches
  --report-dir   where JUnit, proxy logs and parity.md/parity.html go (default reports/lab)
  --parallel, -p specs at a time (default 3; each has its own namespace, pods and addresses)
  --verbose, -v  more output
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'lab') {
    process.stderr.write(`kpng-harness: KPNG_ERR_USAGE: unknown command "${command}" (accepted: lab)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  let cmd: LabCommand;
  try {
    cmd = parseLabArgs(rest);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`kpng-harness: ${error.message}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('kpng-harness: KPNG_ERR_NOT_ROOT: the lab makes network namespaces and rules: run it as root\n');
    return 2;
  }
  let chosen: Backend[];
  if (cmd.backends === 'all') {
    chosen = [];
    for (const backend of backends) if (await backendAvailable(backend)) chosen.push(backend);
    process.stdout.write(`backends the proxy offers: ${chosen.join(', ')} (not yet: ${backends.filter((b) => !chosen.includes(b)).join(', ') || 'none'})\n`);
  } else {
    chosen = cmd.backends;
    for (const backend of chosen) {
      if (!(await backendAvailable(backend))) {
        process.stderr.write(`kpng-harness: KPNG_ERR_NO_BACKEND: the proxy has no to-${backend} stage yet (kpng to-${backend} --help fails)\n`);
        return 2;
      }
    }
  }

  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    controller.abort();
    process.stderr.write(`\nkpng-harness: ${signal}: removing everything the lab made...\n`);
    void teardownEverything().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await runLab({
      backends: chosen,
      families: cmd.families,
      nodes: cmd.nodes,
      model: cmd.model,
      specs: labSpecs,
      ...(cmd.focus && { focus: cmd.focus }),
      ...(cmd.skip && { skip: cmd.skip }),
      reportDir: cmd.reportDir,
      verbose: cmd.verbose,
      parallel: cmd.parallel,
      signal: controller.signal,
    });
    return summary.ok ? 0 : 1;
  } catch (error) {
    if (interrupted) return new Promise<number>(() => undefined); // the signal handler exits
    process.stderr.write(`kpng-harness: ${(error as Error).message}\n`);
    await teardownEverything();
    return 1;
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`kpng-harness: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
