// The proxy on each lab node: the DaemonSet's own command lines (harness/config
// proxyArgs), with what the kubelet and the pod's volumes would fill in replaced by the
// lab's: the node name, the kubeconfig path and the split model's socket. Started as real
// processes in the node's namespace.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { processRunner } from '../../../proxy/exec.ts';
import { KUBECONFIG_PATH, NODE_NAME_ARG, PROXY_SOCKET, proxyArgs, type Backend, type DeploymentModel } from '../../config/index.ts';
import { type Node, type NsProcess, projectNode, programEnv, siblingProgram } from '../netns/index.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

export interface ProxyCommandInput {
  backend: Backend;
  model: DeploymentModel;
  /** The cluster CIDRs, one per family (--cluster-cidr). */
  clusterCidrs: readonly string[];
  nodeName: string;
  /** The kubeconfig the node's proxy reads. */
  kubeconfig: string;
  /** The split model's gRPC socket for this node (unix path). */
  socket: string;
  /** The backend's flags that keep it to this node (its scope's: a cgroup-scoped one's cgroup and state folder), after its stage's. */
  nodeArgs?: readonly string[];
}

/** One process of a node's proxy: `server` (split model: kube → to-api) or `backend`. */
export interface ProxyCommand {
  role: 'server' | 'backend';
  args: string[];
}

/** The `kpng` argument lists for one node, server first (split model only). */
export function proxyCommands(input: ProxyCommandInput): ProxyCommand[] {
  const daemonSet = proxyArgs({ backend: input.backend, model: input.model, podCIDRs: input.clusterCidrs, kubeconfig: true });
  const fill = (args: string[]) =>
    args.map((arg) =>
      arg
        .replace(NODE_NAME_ARG, `--node-name=${input.nodeName}`)
        .replace(`--kubeconfig=${KUBECONFIG_PATH}`, `--kubeconfig=${input.kubeconfig}`)
        .replace(PROXY_SOCKET, `unix://${input.socket}`),
    );
  const out: ProxyCommand[] = [];
  if (daemonSet.server.length > 0) out.push({ role: 'server', args: fill(daemonSet.server) });
  // The backend's stage comes last: its own flags end the list.
  out.push({ role: 'backend', args: [...fill(daemonSet.backend), ...(input.nodeArgs ?? [])] });
  return out;
}

/** The proxy's entry point: proxy/cli.ts from source, dist/proxy/cli.js when built. */
export function proxyEntry(): string {
  return siblingProgram(import.meta.url, '../../../proxy/cli');
}

/** What `kpng <stage> --help` prints, or undefined when it fails (the proxy has no such stage). */
export async function proxyStageHelp(stage: string): Promise<string | undefined> {
  const result = await processRunner()(projectNode(), ['--disable-warning=ExperimentalWarning', proxyEntry(), stage, '--help'], { env: { ...process.env, ...programEnv() }, stripFinalNewline: true });
  return result.exitCode === 0 ? result.stdout : undefined;
}

/** Whether the proxy offers a backend: `kpng to-<backend> --help` exits 0. */
export async function backendAvailable(backend: Backend): Promise<boolean> {
  return (await proxyStageHelp(`to-${backend}`)) !== undefined;
}

/** A node's running proxy: one process (single model) or two (split model). */
export interface NodeProxy {
  node: Node;
  processes: { role: ProxyCommand['role']; process: NsProcess }[];
  /** Everything the processes printed, each line prefixed with its role. */
  output(): string;
}

/** Starts a node's proxy processes in its namespace (and cgroup, if it has one), with the host's mounts as the DaemonSet's pod has them (/sys/fs/cgroup, /sys/fs/bpf). */
export function startNodeProxy(node: Node, commands: readonly ProxyCommand[]): NodeProxy {
  const processes = commands.map((command) => ({
    role: command.role,
    process: node.spawn(projectNode(), ['--disable-warning=ExperimentalWarning', proxyEntry(), ...command.args], { env: programEnv(), hostMounts: true }),
  }));
  return {
    node,
    processes,
    output: () => processes.map(({ role, process }) => process.output.replace(/^(?=.)/gm, `[${role}] `)).join(''),
  };
}

/** The first failure among a node's proxy processes: one that exited. */
export function exitedProcess(proxy: NodeProxy): string | undefined {
  const gone = proxy.processes.find(({ process }) => !process.running);
  if (!gone) return undefined;
  const exit = gone.process.exit;
  const how = exit?.signal ? `signal ${exit.signal}` : `exit code ${String(exit?.exitCode)}`;
  return `the ${gone.role} process on ${proxy.node.name} ended (${how}); its output ends:\n${tail(gone.process.output, 20)}`;
}

export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Waits until the node's /healthz reports a first sync (a status entry per family), or a process exits. */
export async function waitProxySynced(proxy: NodeProxy, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const gone = exitedProcess(proxy);
    if (gone) throw new Error(harnessErrorText('KPNG_ERR_LAB_PROXY', `${gone}`));
    try {
      const { status, body } = await proxy.node.httpGet('http://127.0.0.1:10256/healthz', { timeoutMs: 1_000 });
      const report = JSON.parse(body) as { status?: Record<string, unknown> };
      if (status === 200 && report.status && Object.keys(report.status).length > 0) return;
      last = `${status} ${body}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(harnessErrorText('KPNG_ERR_LAB_PROXY', `the proxy on ${proxy.node.name} did not report a first sync within ${timeoutMs} ms (last /healthz: ${last}); its output ends:\n${tail(proxy.output(), 20)}`));
}

/** Writes a node's proxy output to `dir/proxy-<node>.log`. */
export async function saveProxyLog(proxy: NodeProxy, dir: string): Promise<string> {
  const file = path.join(dir, `proxy-${proxy.node.name}.log`);
  await writeFile(file, proxy.output());
  return file;
}
