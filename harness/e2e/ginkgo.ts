// The ginkgo command line that runs e2e.test against a cluster, KPNG's way: parallel
// nodes, the verified focus/skip, the local provider, JUnit into the report folder.
import { KpngError } from '../config/index.ts';
import type { Selection } from './selection.ts';

export interface GinkgoRunOptions {
  ginkgo: string;
  e2eTest: string;
  selection: Pick<Selection, 'focus' | 'skip'>;
  kubeconfig: string;
  /** e2e.test writes junit_01.xml here (--report-dir). */
  reportDir: string;
  /** Parallel ginkgo processes (default 8; KPNG used 25). */
  nodes?: number;
  /** ginkgo's suite timeout (default 3h). */
  timeout?: string;
  /** Retry a failed spec this many times before calling it failed (default 0). */
  flakeAttempts?: number;
  /** e2e.test's --provider (default local; a netns cluster uses skeleton). */
  provider?: string;
  /** ginkgo -v: each spec's name and result as it ends (what per-spec progress reads). */
  verbose?: boolean;
  /** Further e2e.test flags (after the ones above). */
  extraE2eArgs?: readonly string[];
}

export interface ProgramCommand {
  file: string;
  args: string[];
  /** Added to the environment. */
  env: Record<string, string>;
}

export function ginkgoRunCommand(options: GinkgoRunOptions): ProgramCommand {
  const nodes = options.nodes ?? 8;
  if (!Number.isInteger(nodes) || nodes < 1) throw new KpngError('KPNG_ERR_E2E_ARGUMENT', `nodes: ${nodes} is not a whole number ≥ 1`);
  const timeout = options.timeout ?? '3h';
  if (!/^\d+(s|m|h)$/.test(timeout)) throw new KpngError('KPNG_ERR_E2E_ARGUMENT', `timeout: ${JSON.stringify(timeout)} is not a duration; accepted: e.g. 90m or 3h`);
  if (options.selection.focus === '') throw new KpngError('KPNG_ERR_E2E_ARGUMENT', 'the focus is empty; a verified selection always has one');
  const flakes = options.flakeAttempts ?? 0;
  return {
    file: options.ginkgo,
    args: [
      `--nodes=${nodes}`,
      `--focus=${options.selection.focus}`,
      ...(options.selection.skip === '' ? [] : [`--skip=${options.selection.skip}`]),
      `--timeout=${timeout}`,
      ...(flakes > 0 ? [`--flake-attempts=${flakes}`] : []),
      '--no-color',
      '--silence-skips',
      ...(options.verbose ? ['-v'] : []),
      options.e2eTest,
      '--',
      `--kubeconfig=${options.kubeconfig}`,
      `--provider=${options.provider ?? 'local'}`,
      `--report-dir=${options.reportDir}`,
      '--disable-log-dump=true',
      ...(options.extraE2eArgs ?? []),
    ],
    env: { KUBERNETES_CONFORMANCE_TEST: 'y' },
  };
}
