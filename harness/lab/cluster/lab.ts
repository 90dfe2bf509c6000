// The lab: a docker-free cluster made of network namespaces around a real etcd and
// kube-apiserver.
//
//   host:      etcd + kube-apiserver on 127.0.0.1 (harness/lab/control-plane), the
//              host end of the API relay (a unix socket), this process (the "kubectl user",
//              the kubelets and the endpointslice controller of the lab)
//   apiserver: a namespace on the shared network (client #1 of the topology, 10.99.0.101 /
//              fd00:99::101) whose relay accepts the nodes' API connections on :6443
//   node-N:    eth0 on the shared network, a pod CIDR, routes to the other nodes' pods,
//              a Node object (InternalIPs, zone label), and the proxy under test as real
//              processes started from the DaemonSet's command lines (for a backend that
//              hooks a cgroup's sockets: a cgroup of the node's own, holding its processes
//              and its pods', and a state folder of its own, passed to the proxy)
//   outside-N: clients on the shared network, outside the cluster
//   pods:      namespaces on their node's pod bridge running echo servers (workloads.ts)
//
// Why a relay: a process in a node namespace cannot reach the host's 127.0.0.1, and the
// lab adds nothing to the host's own interfaces. kube-apiserver stays on loopback, as
// every other user of harness/lab/control-plane has it; its certificate also names the
// relay's addresses (extraSANs), so the proxies verify it as they would in a cluster.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { proxyBackend, type Backend, type DeploymentModel, type IpFamily } from '../../config/index.ts';
import { startControlPlane, type ControlPlane } from '../control-plane/index.ts';
import { DEFAULT_PLAN, createTopology, needsNodeCgroups, nodeScopeArgs, planAddress, type Client, type Family, type Node, type Topology } from '../netns/index.ts';
import { startApiRelay, type ApiRelay } from './api-relay.ts';
import { LabApi } from './kube-api.ts';
import { checkLabScope } from './backends.ts';
import { nodeObject } from './objects.ts';
import { proxyCommands, saveProxyLog, startNodeProxy, waitProxySynced, type NodeProxy } from './proxies.ts';
import { Workloads } from './workloads.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

/** Where the nodes reach the API: the relay's port in the apiserver namespace. */
export const RELAY_PORT = 6443;
export const RELAY_NAMESPACE = 'apiserver';

/** The relay's addresses, fixed by the address plan (client #1), so one control plane can serve many labs. */
export function relayAddresses(): string[] {
  return [planAddress(DEFAULT_PLAN.shared.ipv4, DEFAULT_PLAN.firstClientHost), planAddress(DEFAULT_PLAN.shared.ipv6, DEFAULT_PLAN.firstClientHost)];
}

/** Starts a control plane that labs of every family can share: dual-stack Service CIDRs, a certificate naming the relay's addresses. */
export function startLabControlPlane(opts: { baseDir?: string; log?: (line: string) => void } = {}): Promise<ControlPlane> {
  return startControlPlane({ family: 'dual', extraSANs: relayAddresses(), ...opts });
}

export interface LabOptions {
  backend: Backend;
  family: IpFamily;
  /** Number of nodes (default 3). */
  nodes?: number;
  model?: DeploymentModel;
  /** Number of outside clients (default 2). */
  clients?: number;
  /** A control plane from startLabControlPlane to use instead of starting one. */
  controlPlane?: ControlPlane;
  /** Zones given to the nodes in turn (default zone-a, zone-b, zone-c). */
  zones?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
  /** How long each proxy may take to report its first sync (default 60 s). */
  proxyStartTimeoutMs?: number;
}

const liveLabs = new Set<Lab>();

/** Every lab of this process that is not destroyed yet (for signal handlers). */
export function liveLabList(): Lab[] {
  return [...liveLabs];
}

export class Lab {
  readonly backend: Backend;
  readonly family: IpFamily;
  readonly model: DeploymentModel;
  readonly topology: Topology;
  readonly controlPlane: ControlPlane;
  readonly api: LabApi;
  readonly relay: ApiRelay;
  readonly proxies: NodeProxy[];
  readonly workloads: Workloads;
  /** The folder of this lab's files (relay socket, node kubeconfig, sockets). */
  readonly dir: string;
  readonly #zones: Map<string, string>;
  readonly #ownControlPlane: boolean;
  #destroying: Promise<void> | undefined;

  private constructor(fields: {
    opts: LabOptions;
    topology: Topology;
    controlPlane: ControlPlane;
    ownControlPlane: boolean;
    api: LabApi;
    relay: ApiRelay;
    proxies: NodeProxy[];
    dir: string;
    zones: Map<string, string>;
  }) {
    this.backend = fields.opts.backend;
    this.family = fields.opts.family;
    this.model = fields.opts.model ?? 'single-process-per-node';
    this.topology = fields.topology;
    this.controlPlane = fields.controlPlane;
    this.#ownControlPlane = fields.ownControlPlane;
    this.api = fields.api;
    this.relay = fields.relay;
    this.proxies = fields.proxies;
    this.dir = fields.dir;
    this.#zones = fields.zones;
    this.workloads = new Workloads({ api: this.api, topology: this.topology, zoneOf: (node) => this.zoneOf(node), family: this.family });
  }

  /** Starts everything; on failure removes what it made before throwing. */
  static async start(opts: LabOptions): Promise<Lab> {
    const log = opts.log ?? (() => {});
    const nodeCount = opts.nodes ?? 3;
    if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 20) throw new Error(harnessErrorText('KPNG_ERR_LAB_NODES', `--nodes=${nodeCount}: accepted: 1 to 20`));
    // A backend the lab cannot keep to one node here is refused before anything is made.
    checkLabScope(opts.backend);
    const { scope } = proxyBackend(opts.backend);
    const model = opts.model ?? 'single-process-per-node';
    const zones = opts.zones ?? ['zone-a', 'zone-b', 'zone-c'];
    const dir = await mkdtemp(path.join(tmpdir(), 'kpng-lab-'));
    const made: { topology?: Topology; controlPlane?: ControlPlane; relay?: ApiRelay; api?: LabApi; nodes?: string[] } = {};
    const undo = async () => {
      if (made.api && made.nodes) await Promise.allSettled(made.nodes.map((name) => made.api?.deleteNode(name)));
      await made.topology?.destroy();
      await made.relay?.stop();
      if (!opts.controlPlane) await made.controlPlane?.stop();
      await rm(dir, { recursive: true, force: true });
    };
    try {
      const nodeNames = Array.from({ length: nodeCount }, (_, i) => `node-${i + 1}`);
      const clientNames = [RELAY_NAMESPACE, ...Array.from({ length: opts.clients ?? 2 }, (_, i) => `outside-${i + 1}`)];
      log(`lab: ${nodeCount} nodes (${opts.family}), ${opts.backend}, ${model}`);
      const [controlPlane, topology] = await Promise.all([
        opts.controlPlane ?? startLabControlPlane({ baseDir: dir, log }).then((cp) => (made.controlPlane = cp)),
        // A cgroup-scoped backend: each node a cgroup of its own, holding its processes and its pods'.
        createTopology({ family: opts.family, nodes: nodeNames, clients: clientNames, nodeCgroups: needsNodeCgroups(scope) }).then((t) => (made.topology = t)),
      ]);
      // Real nodes have a default route; without one a node cannot even send to a ClusterIP (the route lookup fails before any DNAT).
      await Promise.all(topology.nodes.map((node) => addDefaultRoutes(node, topology.families)));
      log(`lab: namespaces ${topology.prefix}*, files in ${dir}`);
      const relayNs = topology.client(RELAY_NAMESPACE);
      const expected = relayAddresses();
      for (const ip of relayNs.ips) {
        if (!expected.includes(ip)) throw new Error(harnessErrorText('KPNG_ERR_LAB_RELAY', `the relay namespace has ${ip}, which the apiserver's certificate does not name (${expected.join(', ')})`));
      }
      made.relay = await startApiRelay({ target: controlPlane.server, namespace: relayNs, addresses: relayNs.ips, port: RELAY_PORT, socket: path.join(dir, 'api.sock') });
      const nodeKubeconfig = path.join(dir, 'node-kubeconfig');
      await writeNodeKubeconfig(controlPlane.kubeconfig, nodeKubeconfig, made.relay.url);
      const api = (made.api = new LabApi(controlPlane.kubeconfig));
      const zoneMap = new Map(topology.nodes.map((node, i) => [node.name, zones[i % zones.length] ?? '']));
      made.nodes = [];
      log(`lab: registering ${nodeCount} Node objects; API relay at ${made.relay.url}`);
      for (const node of topology.nodes) {
        made.nodes.push(node.name);
        await api.registerNode(nodeObject({ name: node.name, ips: node.ips, podCidrs: node.podCidrs, zone: zoneMap.get(node.name) }));
      }
      const socketDir = path.join(dir, 'sockets');
      await mkdir(socketDir);
      const proxies = topology.nodes.map((node) =>
        startNodeProxy(
          node,
          proxyCommands({
            backend: opts.backend,
            model,
            clusterCidrs: topology.clusterCidrs,
            nodeName: node.name,
            kubeconfig: nodeKubeconfig,
            socket: path.join(socketDir, `${node.name}.sock`),
            nodeArgs: nodeScopeArgs(scope, node),
          }),
        ),
      );
      log(`lab: started the proxy on ${nodeCount} nodes: kpng ${proxies[0]?.processes.map((p) => p.process.command.slice(3).join(' ')).join(' | ')}`);
      await Promise.all(proxies.map((proxy) => waitProxySynced(proxy, opts.proxyStartTimeoutMs ?? 60_000)));
      log('lab: every proxy has synced');
      const lab = new Lab({ opts, topology, controlPlane, ownControlPlane: !opts.controlPlane, api, relay: made.relay, proxies, dir, zones: zoneMap });
      liveLabs.add(lab);
      return lab;
    } catch (error) {
      await undo().catch(() => undefined);
      throw error;
    }
  }

  get families(): readonly Family[] {
    return this.topology.families;
  }

  get nodes(): Node[] {
    return this.topology.nodes;
  }

  node(name: string): Node {
    return this.topology.node(name);
  }

  /** The clients outside the cluster (not the relay's namespace). */
  get clients(): Client[] {
    return this.topology.clients.filter((client) => client.name !== RELAY_NAMESPACE);
  }

  zoneOf(node: string): string | undefined {
    return this.#zones.get(node) || undefined;
  }

  proxy(node: string): NodeProxy {
    const found = this.proxies.find((proxy) => proxy.node.name === node);
    if (!found) throw new Error(harnessErrorText('KPNG_ERR_LAB_UNKNOWN', `no proxy on node ${node}`));
    return found;
  }

  /** Writes every proxy's output to `dir/proxy-<node>.log`. */
  async saveLogs(dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    return Promise.all(this.proxies.map((proxy) => saveProxyLog(proxy, dir)));
  }

  /**
   * Removes everything the lab made: pods and their API objects, the Node objects, the
   * proxies and every namespace, the relay, the control plane when the lab started it,
   * and its folder. Safe to call more than once.
   */
  destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      const errors: unknown[] = [];
      const step = async (fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (error) {
          errors.push(error);
        }
      };
      if (!this.#ownControlPlane) {
        await step(() => this.workloads.deleteAll());
        await step(() => Promise.all(this.nodes.map((node) => this.api.deleteNode(node.name))));
      }
      await step(() => this.topology.destroy());
      await step(() => this.relay.stop());
      if (this.#ownControlPlane) await step(() => this.controlPlane.stop());
      await step(() => rm(this.dir, { recursive: true, force: true }));
      liveLabs.delete(this);
      if (errors.length > 0) throw new AggregateError(errors, harnessErrorText('KPNG_ERR_LAB_DESTROY', `${errors.map(String).join('; ')}`));
    })();
    return this.#destroying;
  }

  /** For exit hooks: kills the proxies and deletes the namespaces synchronously (the netns library's own hook does the same). */
  destroySync(): void {
    this.topology.destroySync();
  }
}

/** `default dev eth0` in each family: what is not for the shared network, a pod or a Service leaves by the uplink. */
async function addDefaultRoutes(node: Node, families: readonly Family[]): Promise<void> {
  for (const family of families) await node.exec('ip', [family === 'ipv6' ? '-6' : '-4', 'route', 'replace', 'default', 'dev', node.uplink]);
}

/** The admin kubeconfig with the server replaced by the relay's URL: what the nodes' proxies read. */
export async function writeNodeKubeconfig(adminKubeconfig: string, out: string, server: string): Promise<void> {
  const config = parse(await readFile(adminKubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  for (const cluster of config.clusters) cluster.cluster.server = server;
  await writeFile(out, stringify(config), { mode: 0o600 });
}
