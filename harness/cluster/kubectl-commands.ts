// The kubectl command lines the harness runs against a cluster (kind's, or the lab's
// control plane). Pure: validated inputs in, program and arguments out.
import { KpngError, dns1123LabelProblem } from '../config/index.ts';
import { nonEmpty, type ToolCommand } from './commands.ts';

export interface KubectlTarget {
  /** A kubeconfig file (default: kubectl's own choice, $KUBECONFIG or ~/.kube/config). */
  kubeconfig?: string;
  /** A context in it (e.g. kind-kpng-proxy). */
  context?: string;
}

function target(options: KubectlTarget): string[] {
  return [
    ...(options.kubeconfig === undefined ? [] : ['--kubeconfig', nonEmpty('kubeconfig path', options.kubeconfig)]),
    ...(options.context === undefined ? [] : ['--context', nonEmpty('kubeconfig context', options.context)]),
  ];
}

function duration(what: string, value: string): string {
  if (!/^\d+(s|m|h)$/.test(value)) {
    throw new KpngError('KPNG_ERR_CLUSTER_ARGUMENT', `${what}: ${JSON.stringify(value)} is not a duration; accepted: a number and s, m or h (e.g. 5m)`);
  }
  return value;
}

export interface KubectlApplyOptions extends KubectlTarget {
  /** A manifest file (multi-document YAML). */
  file: string;
  /** server: the API server validates and admits everything but stores nothing. */
  dryRun?: 'server';
}

export function kubectlApplyCommand(options: KubectlApplyOptions): ToolCommand {
  const file = nonEmpty('manifest file', options.file);
  return {
    tool: 'kubectl',
    args: [...target(options), 'apply', '--filename', file, ...(options.dryRun ? [`--dry-run=${options.dryRun}`] : [])],
    needs: ['kubectl'],
    title: `${options.dryRun ? 'checking (server-side dry run)' : 'applying'} ${file}`,
    output: 'stream',
  };
}

export interface KubectlRolloutStatusOptions extends KubectlTarget {
  namespace: string;
  daemonSet: string;
  /** Default 5m. */
  timeout?: string;
}

export function kubectlRolloutStatusCommand(options: KubectlRolloutStatusOptions): ToolCommand {
  for (const [what, value] of [
    ['namespace', options.namespace],
    ['daemonset name', options.daemonSet],
  ] as const) {
    const problem = dns1123LabelProblem(value);
    if (problem !== undefined) throw new KpngError('KPNG_ERR_CLUSTER_ARGUMENT', `${what}: ${problem}`);
  }
  const timeout = duration('timeout', options.timeout ?? '5m');
  return {
    tool: 'kubectl',
    args: [...target(options), '--namespace', options.namespace, 'rollout', 'status', `daemonset/${options.daemonSet}`, `--timeout=${timeout}`],
    needs: ['kubectl'],
    title: `waiting up to ${timeout} for daemonset ${options.namespace}/${options.daemonSet} to be ready on every node`,
    output: 'stream',
  };
}
