// A Kubernetes cluster without Docker: real kubelets and containerd in network (and UTS)
// namespaces on this machine, an etcd + kube-apiserver + controller-manager + scheduler in
// a namespace of their own, all joined by a switch namespace's bridge (plan.ts). Needs root.
//
//   const cluster = await startNetnsCluster({ nodes: 2 });
//   // cluster.kubeconfig works from the host (127.0.0.1, relayed into the control plane);
//   // cluster.nodeKubeconfig works inside the node namespaces (cluster.nodeExec).
//   await cluster.stop();   // processes, namespaces, mounts, cgroups, files, host sysctls
//
// Everything runs under the cgroup /kpng-<id> (every v1 hierarchy, and the cgroup2 one:
// there each node's processes and containers share /kpng-<id>/node-N, the directory a
// backend that hooks a cgroup's sockets is given, nodeScope), so a stop finds all of it even
// when the process that started it is gone: stopCluster(state) from a state file.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { processRunner, type RunResult } from '../../../proxy/exec.ts';
import { KpngError, type IpFamily } from '../../config/index.ts';
import { k8sBinary, k8sBinDir, repoRoot } from '../../k8s-binaries.ts';
import { issueClientCert, issueServerCert, makeCA } from '../../lab/control-plane/index.ts';
import { joinSockets } from '../../lab/cluster/relay-join.ts';
import { processStartTime } from '../../lab/netns/cleanup.ts';
import { projectNode, programEnv, siblingProgram } from '../../lab/netns/index.ts';
import { cniConfList, containerdConfig, controlPlaneFlags, kubeconfig, kubeletArgs, kubeletConfig, nodePaths, type NodePaths } from './configs.ts';
import type { ControlPlaneProgramConfig, ControlPlaneProgramReady } from './control-plane-program.ts';
import { cgroup2Hierarchy, cgroupHierarchies, createCgroup, createCgroup2, killAndRemoveCgroup, namespacesOf, readSysctls, restoreSysctls, unmountUnder } from './host.ts';
import { coreDnsManifests, kubeProxyManifests } from './addons.ts';
import { ensureImages, type BuiltImage } from './images.ts';
import { clusterPlan, isIPv6, newClusterId, nodeCgroup2Template, nodeStateTemplate, ownsStateEntry, planNamespaces, type ClusterPlan, type NodePlan } from './plan.ts';

export const DEFAULT_DATA_DIR = '/var/lib/kpng-netns-cluster';
export const DEFAULT_RUN_DIR = '/run/kpng-netns-cluster';
export const CNI_BIN_DIR = '/usr/lib/cni';

export interface NetnsClusterOptions {
  nodes?: number;
  /** ipv4 (default), ipv6, or dual (both; IPv4 the primary family): node and pod addresses, Service CIDRs, kubelets' node IPs (plan.ts). */
  family?: IpFamily;
  /** Parent of the cluster's data folder (default /var/lib/kpng-netns-cluster). */
  dataDir?: string;
  /** Parent of the cluster's socket folder (default /run/kpng-netns-cluster). */
  runDir?: string;
  /** Where the image tars are kept between runs (default .cache/netns-cluster/images). */
  imageDir?: string;
  readyTimeoutMs?: number;
  /** The service proxy started with the cluster: upstream kube-proxy's DaemonSet, or none (deploy one yourself, then waitForDns). */
  proxy?: 'kube-proxy' | 'none';
  log?: (line: string) => void;
  /** Aborted while the cluster starts: the start stops at its next step, removes what it made and rejects (KPNG_ERR_NETNS_CLUSTER, "interrupted"). */
  signal?: AbortSignal;
}

/** What stopCluster needs, also from another process: kept in <dataDir>/<id>/state.json. */
export interface ClusterState {
  id: string;
  nodes: number;
  /** Absent in the state of a cluster made before families: ipv4. */
  family?: IpFamily;
  dataDir: string;
  runDir: string;
  /** Host sysctls as they were before the first kubelet started. */
  sysctls: Record<string, string>;
  /** The process that started the cluster and serves its API relay (pid, start time). */
  owner: { pid: number; startTime: string | undefined };
  kubeconfig: string;
  server: string;
  /** Folders a backend keeps per-node state below (nodeScope): their entries `<id>-*` are the cluster's, removed by stop. */
  stateRoots?: string[];
}

/** Where a backend that hooks a cgroup's sockets is kept to one node, as templates on the node's name ($(NODE_NAME), the downward API's spec.nodeName). */
export interface NodeScopeTemplate {
  /** The node's cgroup2 directory: every process of the node and of its pods. */
  cgroup: string;
  /** The node's own folder for the backend's kernel state, below the root asked for. */
  state: string;
}

export interface ClusterNode {
  plan: NodePlan;
  paths: NodePaths;
}

export interface NetnsCluster {
  id: string;
  plan: ClusterPlan;
  state: ClusterState;
  /** Admin kubeconfig for the host: https://127.0.0.1:<port>, relayed into the control plane. */
  kubeconfig: string;
  /** Admin kubeconfig for programs inside the node namespaces: https://10.201.0.2:<port>. */
  nodeKubeconfig: string;
  /** The apiserver as the nodes see it. */
  server: string;
  nodes: ClusterNode[];
  images: BuiltImage[];
  /** The argv prefix that runs a program in a node's network and UTS namespaces (nsenter, not ip netns exec: that makes a mount namespace of its own). */
  nodeCommand(node: string): string[];
  /**
   * Where a backend hooking a cgroup's sockets is kept to each node: the node's cgroup2
   * directory and a state folder of its own below `stateUnder` (removed by stop), as
   * templates on $(NODE_NAME). Throws KPNG_ERR_NETNS_CLUSTER when the host has no cgroup2 hierarchy.
   */
  nodeScope(stateUnder: string): Promise<NodeScopeTemplate>;
  /** Runs a program in a node's namespaces. */
  nodeExec(node: string, file: string, args: string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** A long-running program in a node's namespaces and its runtime's cgroup (so stop ends it too), output appended to logFile. */
  nodeSpawn(node: string, file: string, args: string[], logFile: string): ResultPromise;
  /** kubectl with the host kubeconfig. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** The argv prefix that runs a program in the control plane's network namespace (where every node and pod address is reachable: run e2e.test there). */
  controlPlaneCommand(): string[];
  /** Imports an image archive into every node's containerd (nothing is ever pulled). */
  importImage(image: BuiltImage): Promise<void>;
  /** Deploys upstream kube-proxy as kubeadm does (a DaemonSet from the kube-proxy image) and waits until it runs on every node. */
  deployKubeProxy(opts?: { mode?: 'iptables' | 'nftables'; timeoutMs?: number }): Promise<void>;
  /** Waits until a DaemonSet has a ready pod on every node (its logs in the error otherwise). */
  waitForDaemonSet(namespace: string, name: string, timeoutMs?: number): Promise<void>;
  /** Deploys CoreDNS (kubeadm's, idempotent) and waits until it is Ready: its pods reach the API server through the `kubernetes` Service, so call it once a proxy runs. */
  waitForDns(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const fail = (message: string): never => {
  throw new KpngError('KPNG_ERR_NETNS_CLUSTER', message);
};

const run = processRunner();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function must(file: string, args: string[], what: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(file, args, { timeoutMs: opts.timeoutMs ?? 30_000, ...(opts.input !== undefined && { input: opts.input }) });
  if (r.exitCode !== 0) fail(`${what}: ${file} ${args.join(' ')} ${r.exitCode === undefined ? `did not run (${r.error ?? 'killed'})` : `exited with ${r.exitCode}`}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

const netnsPath = (name: string) => `/run/netns/${name}`;

/** The argv prefix that puts a program into `cgroup` (every v1 hierarchy), and into `cgroup2` in the cgroup2 one when given, before it runs: its children are born there. */
function inCgroup(cgroup: string, cgroup2?: string): string[] {
  const unified = cgroup2 === undefined ? undefined : cgroup2Hierarchy();
  const files = [
    ...cgroupHierarchies()
      .filter((h) => path.basename(h) !== 'unified' && h !== '/sys/fs/cgroup')
      .map((h) => path.join(h, cgroup, 'cgroup.procs')),
    ...(unified === undefined || cgroup2 === undefined ? [] : [path.join(unified, cgroup2, 'cgroup.procs')]),
  ].map((f) => `'${f}'`);
  return ['/bin/sh', '-c', `for f in ${files.join(' ')}; do echo $$ > "$f" || exit 125; done; exec "$@"`, 'in-cgroup'];
}

/** The host's resolvers (/etc/resolv.conf's nameserver lines), both families. */
async function hostResolvers(): Promise<string[]> {
  return (await readFile('/etc/resolv.conf', 'utf8').catch(() => ''))
    .split('\n')
    .map((l) => /^\s*nameserver\s+([0-9a-fA-F.:]+)\s*$/.exec(l)?.[1])
    .filter((ip): ip is string => ip !== undefined);
}

async function makeTopology(plan: ClusterPlan, log: (line: string) => void): Promise<void> {
  log(`namespaces: ${planNamespaces(plan).join(', ')}`);
  const v6 = plan.families.some((f) => f.family === 'ipv6');
  for (const ns of planNamespaces(plan)) {
    await must('ip', ['netns', 'add', ns], 'creating a namespace');
    // Set before any interface exists, so every one (eth0, cni0, the switch's bridge) takes it:
    // an IPv6 address is usable at once instead of tentative for a second or two.
    if (v6) await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'], `IPv6 duplicate address detection off in ${ns}`);
  }
  const sw = plan.switchNetns;
  // nodad: no duplicate address detection (no delay) on IPv6 addresses; every address is the plan's, unique.
  const addr = (ns: string, cidr: string, dev: string) => ['-n', ns, 'addr', 'add', cidr, 'dev', dev, ...(isIPv6(cidr) ? ['nodad'] : [])];
  await must('ip', ['-n', sw, 'link', 'add', plan.switchBridge, 'type', 'bridge'], 'the switch bridge');
  for (const f of plan.families) await must('ip', addr(sw, `${f.gateway}/${f.prefixLength}`, plan.switchBridge), 'the switch address');
  await must('ip', ['-n', sw, 'link', 'set', plan.switchBridge, 'up'], 'the switch bridge');
  await must('ip', ['-n', sw, 'link', 'set', 'lo', 'up'], 'the switch loopback');
  // Hosts behind this machine's resolvers stay unreachable: a missing image fails at once, and nothing leaves.
  const resolvers = await hostResolvers();
  const members: { netns: string; veth: string; ips: string[]; node?: NodePlan }[] = [plan.controlPlane, ...plan.nodes.map((n) => ({ netns: n.netns, veth: n.veth, ips: n.ips, node: n }))];
  for (const m of members) {
    await must('ip', ['-n', sw, 'link', 'add', m.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', m.netns], `the veth of ${m.netns}`);
    await must('ip', ['-n', sw, 'link', 'set', m.veth, 'master', plan.switchBridge, 'up'], `the veth of ${m.netns}`);
    for (const [i, f] of plan.families.entries()) await must('ip', addr(m.netns, `${m.ips[i]}/${f.prefixLength}`, 'eth0'), `the address of ${m.netns}`);
    await must('ip', ['-n', m.netns, 'link', 'set', 'eth0', 'up'], `eth0 of ${m.netns}`);
    await must('ip', ['-n', m.netns, 'link', 'set', 'lo', 'up'], `lo of ${m.netns}`);
    // A default route into the switch: a packet for nowhere reaches FORWARD (where kube-proxy's REJECT sits) instead of "network is unreachable".
    for (const f of plan.families) await must('ip', ['-n', m.netns, 'route', 'add', 'default', 'via', f.gateway], `the default route of ${m.netns}`);
    for (const resolver of resolvers) await must('ip', ['-n', m.netns, 'route', 'add', 'unreachable', `${resolver}/${isIPv6(resolver) ? 128 : 32}`], `the resolver route of ${m.netns}`);
    // Every node's pod CIDRs via that node, per family, also from the control plane: pods reach
    // the API server through the `kubernetes` Service without masquerading, so the answers go
    // back to pod addresses (and e2e.test, run there, reaches pods directly).
    for (const other of plan.nodes) {
      if (other.name === m.node?.name) continue;
      for (const [i, cidr] of other.podCIDRs.entries()) await must('ip', ['-n', m.netns, 'route', 'add', cidr, 'via', other.ips[i]!], `the pod route of ${m.netns}`);
    }
    if (!m.node) continue;
    for (const f of plan.families) {
      const sysctl = f.family === 'ipv6' ? 'net.ipv6.conf.all.forwarding=1' : 'net.ipv4.ip_forward=1';
      await must('ip', ['netns', 'exec', m.netns, 'sysctl', '-qw', sysctl], `forwarding in ${m.netns}`);
    }
  }
}

/** One image per archive file: the e2e images share one. */
function uniqueFiles(images: readonly BuiltImage[]): BuiltImage[] {
  return images.filter((image, i) => images.findIndex((other) => other.file === image.file) === i);
}

function nodeCommandFor(node: ClusterNode): string[] {
  return ['nsenter', `--net=${netnsPath(node.plan.netns)}`, `--uts=${node.paths.uts}`, '--'];
}

const exited = new WeakSet<ResultPromise>();
const running = (p: ResultPromise) => !exited.has(p);

/** A long-running program of the cluster, in its cgroup, output to a log file. */
function spawnLogged(cgroup: string, argv: string[], logFile: string, opts: { stdin?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv; cgroup2?: string } = {}): ResultPromise {
  const [file, ...args] = [...inCgroup(cgroup, opts.cgroup2), ...argv];
  const child = execa(file!, args, {
    stdin: opts.stdin ?? 'ignore',
    stdout: { file: logFile, append: true } as never,
    stderr: { file: logFile, append: true } as never,
    reject: false,
    cleanup: false,
    ...(opts.env && { env: opts.env }),
  });
  child.finally(() => exited.add(child)).catch(() => undefined);
  return child;
}

async function waitForStep<T>(what: string, timeoutMs: number, step: () => Promise<T | undefined>, detail: () => Promise<string> = async () => '', interrupted = () => {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    interrupted();
    const value = await step();
    if (value !== undefined) return value;
    await sleep(250);
  }
  return fail(`${what} did not happen within ${timeoutMs / 1000} s${await detail()}`);
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return `; ${file} ends:\n${text.trim().split('\n').slice(-lines).join('\n')}`;
}

interface NodeObjectInput {
  plan: NodePlan;
}

function nodeObjects(nodes: NodeObjectInput[]): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: nodes.map(({ plan: n }) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': process.arch === 'arm64' ? 'arm64' : 'amd64', 'topology.kubernetes.io/zone': n.zone } },
      spec: { podCIDR: n.podCIDR, podCIDRs: n.podCIDRs },
    })),
  });
}

/** A TCP listener on host loopback joined to the control plane's unix socket. */
async function startHostRelay(socket: string): Promise<{ port: number; close(): void }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    joinSockets(client, net.connect({ path: socket }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close() {
      server.close();
      for (const s of open) s.destroy();
    },
  };
}

export async function startNetnsCluster(opts: NetnsClusterOptions = {}): Promise<NetnsCluster> {
  const log = opts.log ?? (() => {});
  if (process.getuid?.() !== 0) fail('the netns cluster makes namespaces, cgroups and mounts: run it as root');
  for (const name of ['kubelet', 'kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'agnhost', 'coredns', 'regression-issue-74839', 'kube-proxy'] as const) {
    if (!existsSync(k8sBinary(name))) fail(`${k8sBinary(name)} is missing: run hack/k8s-binaries.sh --only cluster`);
  }
  for (const tool of ['containerd', 'runc', 'ctr', 'nsenter', 'unshare']) {
    if ((await run('sh', ['-c', `command -v ${tool}`])).exitCode !== 0) fail(`${tool} is not installed: run hack/install-system-deps.sh`);
  }
  if (!existsSync(`${CNI_BIN_DIR}/bridge`)) fail(`${CNI_BIN_DIR}/bridge is missing: run hack/install-system-deps.sh (containernetworking-plugins)`);
  const t0 = Date.now();
  const id = newClusterId();
  const plan = clusterPlan(id, opts.nodes ?? 2, opts.family ?? 'ipv4');
  const dataDir = path.join(opts.dataDir ?? DEFAULT_DATA_DIR, id);
  const runDir = path.join(opts.runDir ?? DEFAULT_RUN_DIR, id);
  const state: ClusterState = {
    id,
    nodes: plan.nodes.length,
    family: plan.family,
    dataDir,
    runDir,
    sysctls: readSysctls(),
    owner: { pid: process.pid, startTime: processStartTime(process.pid) },
    kubeconfig: path.join(dataDir, 'kubeconfig'),
    server: '',
  };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await mkdir(runDir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(dataDir, 'state.json'), JSON.stringify(state, null, 2));
  const relays: { close(): void }[] = [];
  const procs: ResultPromise[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      for (const r of relays) r.close();
      await stopCluster(state, { log, procs });
    })();
    return stopped;
  };
  // While starting: a step after an abort throws, and the catch below removes what was made.
  let starting = true;
  const interrupted = () => {
    if (starting && opts.signal?.aborted) fail(`interrupted while starting cluster ${id}: it is removed again`);
  };
  const waitFor = <T>(what: string, timeoutMs: number, step: () => Promise<T | undefined>, detail?: () => Promise<string>) => waitForStep(what, timeoutMs, step, detail, interrupted);

  try {
    log(`cluster ${id}: ${plan.nodes.length} nodes, ${plan.family}, files in ${dataDir}`);
    const images = await ensureImages(opts.imageDir ?? path.join(repoRoot, '.cache/netns-cluster/images'), undefined, { log });
    for (const file of uniqueFiles(images)) log(`images ${images.filter((i) => i.file === file.file).map((i) => i.name).join(', ')}: ${file.how}`);
    interrupted();
    await createCgroup(plan.controlPlaneCgroup);
    await createCgroup2(plan.controlPlaneCgroup);
    await makeTopology(plan, log);
    interrupted();

    // The apiserver's client certificate for kubelets, from a CA of its own that kubelets trust.
    const kubeletPki = path.join(dataDir, 'kubelet-pki');
    await mkdir(kubeletPki, { recursive: true });
    await makeCA(kubeletPki, 'kpng-netns-kubelet-ca');
    const apiClient = await issueClientCert(kubeletPki, 'apiserver-kubelet-client', 'kube-apiserver', ['system:masters']);

    log('control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler');
    const apiSocket = path.join(runDir, 'api.sock');
    const flags = controlPlaneFlags(plan);
    const cpConfig: ControlPlaneProgramConfig = {
      dataDir: path.join(dataDir, 'control-plane'),
      apiSocket,
      family: plan.family,
      advertise: plan.controlPlane.ip,
      addresses: plan.controlPlane.ips,
      apiserverArgs: flags.apiserver,
      controllerManagerArgs: flags.controllerManager,
      kubeletClientCert: apiClient.cert,
      kubeletClientKey: apiClient.key,
    };
    const cpLog = path.join(dataDir, 'control-plane.log');
    const cpProc = spawnLogged(
      plan.controlPlaneCgroup,
      ['nsenter', `--net=${netnsPath(plan.controlPlane.netns)}`, '--', projectNode(), '--disable-warning=ExperimentalWarning', siblingProgram(import.meta.url, 'control-plane-program'), JSON.stringify(cpConfig)],
      cpLog,
      { stdin: 'pipe', env: { ...process.env, ...programEnv(), PATH: `${k8sBinDir()}:${process.env.PATH ?? ''}` }, cgroup2: plan.controlPlaneCgroup },
    );
    procs.push(cpProc);
    const ready = await waitFor<ControlPlaneProgramReady>(
      'the control plane starting',
      opts.readyTimeoutMs ?? 180_000,
      async () => {
        const text = await readFile(cpLog, 'utf8').catch(() => '');
        const line = text.split('\n').find((l) => l.startsWith('{"ready"'));
        if (line === undefined) return running(cpProc) ? undefined : fail(`the control plane exited${await tail(cpLog)}`);
        const parsed = JSON.parse(line) as ControlPlaneProgramReady | { ready: false; error: string };
        if (!parsed.ready) return fail(`the control plane did not start: ${parsed.error}`);
        return parsed;
      },
      () => tail(cpLog),
    );
    state.server = ready.server;
    const relay = await startHostRelay(apiSocket);
    relays.push(relay);
    const [ca, adminCert, adminKey] = await Promise.all([readFile(ready.caCert, 'utf8'), readFile(ready.adminCert, 'utf8'), readFile(ready.adminKey, 'utf8')]);
    await writeFile(state.kubeconfig, kubeconfig({ server: `https://127.0.0.1:${relay.port}`, ca, cert: adminCert, key: adminKey, user: 'kpng-admin' }), { mode: 0o600 });
    const nodeKubeconfig = path.join(dataDir, 'node-admin.kubeconfig');
    await writeFile(nodeKubeconfig, kubeconfig({ server: ready.server, ca, cert: adminCert, key: adminKey, user: 'kpng-admin' }), { mode: 0o600 });
    await writeFile(path.join(dataDir, 'state.json'), JSON.stringify(state, null, 2));
    log(`control plane ready at ${ready.server} (host: https://127.0.0.1:${relay.port}) after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const kubectl = (args: string[], o: { input?: string; timeoutMs?: number } = {}) =>
      run(k8sBinary('kubectl'), [`--kubeconfig=${state.kubeconfig}`, ...args], { timeoutMs: o.timeoutMs ?? 60_000, ...(o.input !== undefined && { input: o.input }) });
    const nodes: ClusterNode[] = plan.nodes.map((n) => ({ plan: n, paths: nodePaths(dataDir, runDir, n) }));
    const created = await kubectl(['create', '-f', '-'], { input: nodeObjects(nodes) });
    if (created.exitCode !== 0) fail(`creating the Node objects: ${created.stderr.trim()}`);

    // Certificates one at a time: openssl keeps the CA's serial in one file.
    for (const node of nodes) {
      interrupted();
      const { paths } = node;
      await mkdir(path.join(paths.kubeletRoot, 'pki'), { recursive: true });
      await mkdir(paths.cniConfDir, { recursive: true });
      await mkdir(paths.podLogsDir, { recursive: true });
      await mkdir(paths.run, { recursive: true });
      const client = await issueClientCert(ready.dir, `kubelet-${node.plan.name}`, `system:node:${node.plan.name}`, ['system:nodes']);
      const serving = await issueServerCert(kubeletPki, `kubelet-serving-${node.plan.name}`, [node.plan.name], node.plan.ips);
      await writeFile(paths.kubeletKubeconfig, kubeconfig({ server: ready.server, ca, cert: await readFile(client.cert, 'utf8'), key: await readFile(client.key, 'utf8'), user: `system:node:${node.plan.name}` }), { mode: 0o600 });
      await writeFile(paths.kubeletConfig, kubeletConfig(plan, node.plan, paths, { clientCAFile: path.join(kubeletPki, 'ca.crt'), certFile: serving.cert, keyFile: serving.key }));
      await writeFile(paths.containerdConfig, containerdConfig(paths, CNI_BIN_DIR));
      await writeFile(path.join(paths.cniConfDir, '10-kpng-netns.conflist'), cniConfList(node.plan, paths));
      await writeFile(paths.resolvConf, `nameserver ${plan.clusterDNS}\nsearch cluster.local\noptions ndots:5\n`);
      await writeFile(paths.uts, '');
      await must('unshare', [`--uts=${paths.uts}`, 'hostname', node.plan.name], `the UTS namespace of ${node.plan.name}`);
      await createCgroup(node.plan.cgroupRoot);
      await createCgroup(node.plan.runtimeCgroup);
      await createCgroup(node.plan.kubeletCgroup);
      await createCgroup2(node.plan.cgroup2);
    }

    await Promise.all(
      nodes.map(async (node) => {
        const { paths } = node;
        const containerdLog = path.join(paths.dir, 'containerd.log');
        procs.push(spawnLogged(node.plan.runtimeCgroup, [...nodeCommandFor(node), 'containerd', `--config=${paths.containerdConfig}`], containerdLog, { cgroup2: node.plan.cgroup2 }));
        await waitFor(
          `containerd of ${node.plan.name} answering`,
          60_000,
          async () => ((await run('ctr', ['--address', paths.containerdSocket, 'version'], { timeoutMs: 5_000 })).exitCode === 0 ? true : undefined),
          () => tail(containerdLog),
        );
        for (const image of uniqueFiles(images)) {
          interrupted();
          await must('ctr', ['--address', paths.containerdSocket, '-n', 'k8s.io', 'images', 'import', image.file], `importing ${image.name} into ${node.plan.name}`, { timeoutMs: 300_000 }); // as importImage: 120 s ran out at load averages of 60-150
        }
        interrupted();
        procs.push(spawnLogged(node.plan.kubeletCgroup, [...nodeCommandFor(node), k8sBinary('kubelet'), ...kubeletArgs(node.plan, paths)], path.join(paths.dir, 'kubelet.log'), { cgroup2: node.plan.cgroup2 }));
      }),
    );
    log(`nodes: containerd up, images imported, kubelets started after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await waitFor(
      'every node Ready',
      opts.readyTimeoutMs ?? 180_000,
      async () => {
        const r = await kubectl(['get', 'nodes', '-o', 'json'], { timeoutMs: 10_000 });
        if (r.exitCode !== 0) return undefined;
        const list = JSON.parse(r.stdout) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
        const readyCount = list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
        return readyCount === nodes.length ? true : undefined;
      },
      async () => (await Promise.all(nodes.map((n) => tail(path.join(n.paths.dir, 'kubelet.log'), 8)))).join(''),
    );
    // Pods can be created once the default ServiceAccount and the root CA ConfigMap exist.
    await waitFor('the default ServiceAccount and kube-root-ca.crt', 60_000, async () =>
      (await kubectl(['get', 'serviceaccount/default', 'configmap/kube-root-ca.crt', '-n', 'default', '-o', 'name'], { timeoutMs: 10_000 })).exitCode === 0 ? true : undefined,
    );
    log(`cluster ${id}: ${nodes.length} nodes Ready after ${((Date.now() - t0) / 1000).toFixed(1)} s; export KUBECONFIG=${state.kubeconfig}`);

    const podLogs = async (namespace: string, selector: string) => {
      const r = await kubectl(['logs', '-n', namespace, '-l', selector, '--all-containers', '--prefix', '--tail=15'], { timeoutMs: 15_000 });
      const pods = await kubectl(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'wide'], { timeoutMs: 15_000 });
      return `; pods:\n${pods.stdout.trim()}\nlogs:\n${(r.stdout || r.stderr).trim()}`;
    };
    const waitForDaemonSet = async (namespace: string, name: string, timeoutMs = 120_000) => {
      await waitFor(
        `DaemonSet ${namespace}/${name} ready on every node`,
        timeoutMs,
        async () => {
          const r = await kubectl(['get', 'daemonset', '-n', namespace, name, '-o', 'json'], { timeoutMs: 10_000 });
          if (r.exitCode !== 0) return undefined;
          const ds = JSON.parse(r.stdout) as { metadata: { generation?: number }; status?: { observedGeneration?: number; desiredNumberScheduled?: number; numberReady?: number; updatedNumberScheduled?: number } };
          const st = ds.status ?? {};
          return st.observedGeneration === ds.metadata.generation && st.desiredNumberScheduled === nodes.length && st.numberReady === nodes.length && st.updatedNumberScheduled === nodes.length ? true : undefined;
        },
        async () => {
          const r = await kubectl(['get', 'daemonset', '-n', namespace, name, '-o', 'jsonpath={.spec.selector.matchLabels}'], { timeoutMs: 10_000 });
          const labels = Object.entries((r.exitCode === 0 && r.stdout ? JSON.parse(r.stdout) : {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
          return labels ? podLogs(namespace, labels) : '';
        },
      );
    };
    const waitForDns = async (timeoutMs = 120_000) => {
      const t = Date.now();
      // Applied once a proxy runs: started earlier, CoreDNS's first dial of the `kubernetes` Service times out (30 s) before it retries.
      const applied = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(coreDnsManifests(plan)) });
      if (applied.exitCode !== 0) fail(`applying CoreDNS: ${applied.stderr.trim()}`);
      await waitFor(
        'CoreDNS Ready',
        timeoutMs,
        async () => {
          const r = await kubectl(['get', 'deployment', '-n', 'kube-system', 'coredns', '-o', 'jsonpath={.status.readyReplicas}/{.spec.replicas}'], { timeoutMs: 10_000 });
          const [ready, wanted] = r.stdout.split('/');
          return r.exitCode === 0 && ready !== '' && ready === wanted ? true : undefined;
        },
        () => podLogs('kube-system', 'k8s-app=kube-dns'),
      );
      log(`CoreDNS Ready after ${((Date.now() - t) / 1000).toFixed(1)} s`);
    };
    const deployKubeProxy = async (o: { mode?: 'iptables' | 'nftables'; timeoutMs?: number } = {}) => {
      const t = Date.now();
      const r = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(kubeProxyManifests(plan, ready.server, o.mode ? { mode: o.mode } : {})) });
      if (r.exitCode !== 0) fail(`applying kube-proxy: ${r.stderr.trim()}`);
      await waitForDaemonSet('kube-system', 'kube-proxy', o.timeoutMs);
      log(`kube-proxy (${o.mode ?? 'iptables'}) running on every node after ${((Date.now() - t) / 1000).toFixed(1)} s`);
    };
    if ((opts.proxy ?? 'none') === 'kube-proxy') {
      await deployKubeProxy();
      await waitForDns();
    }

    starting = false;
    const byName = (name: string) => nodes.find((n) => n.plan.name === name) ?? fail(`no node ${name}; accepted: ${nodes.map((n) => n.plan.name).join(', ')}`);
    return {
      id,
      plan,
      state,
      kubeconfig: state.kubeconfig,
      nodeKubeconfig,
      server: ready.server,
      nodes,
      images,
      nodeCommand: (name) => nodeCommandFor(byName(name)),
      nodeExec: (name, file, args, o = {}) => {
        const [cmd, ...rest] = [...nodeCommandFor(byName(name)), file, ...args];
        return run(cmd!, rest, { timeoutMs: o.timeoutMs ?? 30_000 });
      },
      nodeSpawn: (name, file, args, logFile) => {
        const node = byName(name);
        return spawnLogged(node.plan.runtimeCgroup, [...nodeCommandFor(node), file, ...args], logFile, { cgroup2: node.plan.cgroup2 });
      },
      nodeScope: async (stateUnder) => {
        const mount = cgroup2Hierarchy() ?? fail('this host has no cgroup2 hierarchy mounted, so the nodes have no cgroup2 directory of their own to give a backend that hooks a cgroup\'s sockets; accepted: a host with cgroup2 (hybrid or unified)');
        const folder = nodeStateTemplate(plan, stateUnder);
        const root = path.dirname(folder);
        if (!(state.stateRoots ?? []).includes(root)) {
          state.stateRoots = [...(state.stateRoots ?? []), root];
          await writeFile(path.join(dataDir, 'state.json'), JSON.stringify(state, null, 2));
        }
        return { cgroup: nodeCgroup2Template(plan, mount), state: folder };
      },
      kubectl,
      importImage: async (image) => {
        await Promise.all(nodes.map((n) => must('ctr', ['--address', n.paths.containerdSocket, '-n', 'k8s.io', 'images', 'import', image.file], `importing ${image.name} into ${n.plan.name}`, { timeoutMs: 300_000 })));
      },
      controlPlaneCommand: () => ['nsenter', `--net=${netnsPath(plan.controlPlane.netns)}`, '--'],
      deployKubeProxy,
      waitForDaemonSet,
      waitForDns,
      stop,
    };
  } catch (error) {
    await stop().catch((e: unknown) => log(`cleanup after a failed start: ${String(e)}`));
    throw error;
  }
}

/**
 * Removes a cluster: every process under its cgroup (control plane, containerd, shims,
 * containers, kubelets), its mounts, cgroups, namespaces and files, and puts the host
 * sysctls kubelet changed back. Idempotent; works from the state file alone.
 */
export async function stopCluster(state: ClusterState, opts: { log?: (line: string) => void; procs?: ResultPromise[] } = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  const problems: string[] = [];
  const plan = clusterPlan(state.id, state.nodes, state.family ?? 'ipv4');
  // Kubelets first (they would restart what is killed), then everything else in the cgroup tree.
  for (const node of plan.nodes) problems.push(...(await killAndRemoveCgroup(node.kubeletCgroup)));
  const cp = opts.procs?.[0];
  if (cp && running(cp)) {
    cp.kill('SIGTERM');
    await Promise.race([cp, sleep(15_000)]);
  }
  problems.push(...(await killAndRemoveCgroup(plan.cgroup)));
  await Promise.all((opts.procs ?? []).map((p) => Promise.race([p, sleep(5_000)])));
  problems.push(...(await unmountUnder([state.dataDir, state.runDir])).map((m) => `still mounted: ${m}`));
  for (const ns of [...new Set([...planNamespaces(plan), ...(await namespacesOf(state.id))])]) {
    if (!existsSync(netnsPath(ns))) continue;
    const r = await run('ip', ['netns', 'del', ns]);
    if (r.exitCode !== 0) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }
  const restored = await restoreSysctls(state.sysctls).catch((e: unknown) => [`restoring sysctls failed: ${String(e)}`]);
  if (restored.length > 0) log(`host sysctls put back: ${restored.join(', ')}`);
  // The nodes' state folders a backend kept (bpffs pins): after the cgroups, so nothing uses them.
  for (const root of state.stateRoots ?? []) {
    const names = await readdir(root).catch(() => [] as string[]);
    for (const name of names.filter((n) => ownsStateEntry(state.id, n))) await rm(path.join(root, name), { recursive: true, force: true }).catch((e: unknown) => problems.push(`${path.join(root, name)}: ${String(e)}`));
  }
  await rm(state.runDir, { recursive: true, force: true }).catch((e: unknown) => problems.push(String(e)));
  await rm(state.dataDir, { recursive: true, force: true }).catch((e: unknown) => problems.push(String(e)));
  // The parent folders too, when no other cluster uses them.
  for (const dir of [path.dirname(state.runDir), path.dirname(state.dataDir)]) await rmdir(dir).catch(() => undefined);
  if (problems.length > 0) fail(`removing cluster ${state.id} left: ${problems.join('; ')}`);
  log(`cluster ${state.id} removed`);
}
