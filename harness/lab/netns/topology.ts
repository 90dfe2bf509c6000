// A small cluster made of network namespaces on one machine:
//
//   client ──┐                                  ┌── pod ─┐
//   client ──┼── [net: shared bridge] ──┬── node ── cbr0 ─┼── pod
//            │                          └── node ── cbr0 ── pod
//
// - net: one namespace whose bridge is the shared L2 network of nodes and clients.
// - node: eth0 on the shared network, forwarding on, a pod bridge cbr0 (with a fixed MAC
//   address) holding the first address of its pod CIDR (the pods' gateway), routes to
//   every other node's pod CIDR via that node. cbr0 is promiscuous and sends bridged
//   traffic through the node's iptables/ip6tables (br_netfilter, per bridge), and each
//   pod's port is in hairpin mode, as kubenet sets them up, so DNAT back to the sender
//   and same-node Service traffic work.
// - pod: eth0 with an address from its node's pod CIDR and a default route via the node.
// - client: eth0 on the shared network, routes to nothing else until `routeVia`.
// IPv6 duplicate address detection is off everywhere, so addresses work at once.

import { existsSync } from 'node:fs';
import {
  type AddressPlan,
  type AddressPlanOverrides,
  type IpFamily,
  type PerFamily,
  clientAddress,
  familiesOf,
  nodeAddress,
  podAddress,
  podCidrFor,
  podGateway,
  resolvePlan,
} from './address-plan.ts';
import { makeNodeCgroup, makeRunCgroup, nodeStateDir, removeRunPlacement } from './cgroups.ts';
import { claimPrefix, deleteNamespaces, deleteNamespacesSync, listNamespaces, listNamespacesSync, recordPlacement, releasePrefix, sweepStale, trackLive, untrackLive } from './cleanup.ts';
import { execIn, ipBatch } from './exec.ts';
import { type Family, familyOf, parseCidr } from './ip.ts';
import { Namespace, type NamespaceContext } from './namespace.ts';
import {
  type LinkKind,
  type NamespaceRole,
  POD_BRIDGE_IFNAME,
  POD_IFNAME,
  UPLINK_IFNAME,
  checkLogicalName,
  namespaceName,
  newPrefix,
  prefixOf,
  sharedBridgeName,
  vethName,
} from './names.ts';
import type { NsProcess } from './process.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

export interface NodeSpec {
  name: string;
  /** Pod CIDRs instead of the plan's (subnet N of the cluster CIDR). */
  podCidrs?: Partial<PerFamily<string>>;
}

export interface PodSpec {
  name: string;
  /** The node's name. */
  node: string;
}

export interface TopologySpec {
  family: IpFamily;
  /** Node names (or specs), in order: node 1, node 2, ... */
  nodes?: (string | NodeSpec)[];
  pods?: PodSpec[];
  /** Client names, in order: client 1, client 2, ... */
  clients?: string[];
  /** Changes to the default address plan (see address-plan.ts). */
  plan?: AddressPlanOverrides;
  /** Remove namespaces left by dead earlier runs before the first topology of this process (default true). */
  sweep?: boolean;
  /**
   * Give each node a cgroup2 folder of its own that every process started in the node's
   * namespace or its pods' joins (cgroups.ts): for backends that hook a cgroup's sockets.
   * Default false: processes stay in this process's cgroup.
   */
  nodeCgroups?: boolean;
}

/** A veth pair the topology made, with what joins what. */
export interface Link {
  kind: LinkKind;
  /** Logical name of the node, client or pod the link serves. */
  owner: string;
  /** The end on the bridge side (shared bridge, or the node's cbr0). */
  ifname: string;
  netns: string;
  /** The end inside the node, client or pod (always eth0). */
  peerIfname: string;
  peerNetns: string;
}

function pick(values: ReadonlyMap<Family, string>, family: Family | undefined, what: string): string {
  const chosen = family ?? [...values.keys()][0];
  const value = chosen === undefined ? undefined : values.get(chosen);
  if (value === undefined) throw new Error(harnessErrorText('KPNG_ERR_NETNS_FAMILY', `${what} has no ${chosen ?? 'address'} (families: ${[...values.keys()].join(', ') || 'none'})`));
  return value;
}

/** A node: forwards between the shared network and its pods. */
export class Node extends Namespace {
  /** 1 for the first node. */
  readonly index: number;
  /** Its interface on the shared network. */
  readonly uplink = UPLINK_IFNAME;
  /** Its pod bridge. */
  readonly podBridge = POD_BRIDGE_IFNAME;
  readonly #ips: Map<Family, string>;
  readonly #podCidrs: Map<Family, string>;
  readonly #gateways: Map<Family, string>;
  readonly #pods: () => Pod[];
  readonly #cgroup: string | undefined;
  readonly #stateDir: (under: string) => string;

  constructor(
    context: NamespaceContext,
    fields: {
      name: string;
      netns: string;
      index: number;
      ips: Map<Family, string>;
      podCidrs: Map<Family, string>;
      gateways: Map<Family, string>;
      pods: () => Pod[];
      cgroup: string | undefined;
      stateDir: (under: string) => string;
    },
  ) {
    super(context, 'node', fields.name, fields.netns);
    this.index = fields.index;
    this.#ips = fields.ips;
    this.#podCidrs = fields.podCidrs;
    this.#gateways = fields.gateways;
    this.#pods = fields.pods;
    this.#cgroup = fields.cgroup;
    this.#stateDir = fields.stateDir;
  }

  /** Its own cgroup (topology made with nodeCgroups), which its processes and its pods' join. */
  override get cgroup(): string | undefined {
    return this.#cgroup;
  }

  /**
   * A folder of its own below `under` for a backend's kernel state that outlives the
   * process (`<under>/<prefix><node>`, e.g. bpffs pins); the topology removes it when
   * destroyed, and a sweep when the run died.
   */
  stateDir(under: string): string {
    return this.#stateDir(under);
  }

  /** Its addresses on the shared network (the node's InternalIPs), primary family first. */
  get ips(): string[] {
    return [...this.#ips.values()];
  }

  /** Its address on the shared network in a family (default: the primary family). */
  ip(family?: Family): string {
    return pick(this.#ips, family, `node ${this.name}`);
  }

  /** Its pod CIDRs, primary family first. */
  get podCidrs(): string[] {
    return [...this.#podCidrs.values()];
  }

  podCidr(family?: Family): string {
    return pick(this.#podCidrs, family, `node ${this.name}`);
  }

  /** Its address on the pod bridge (the pods' gateway) in a family. */
  gateway(family?: Family): string {
    return pick(this.#gateways, family, `node ${this.name}`);
  }

  /** Its pods, in the order they were added. */
  get pods(): Pod[] {
    return this.#pods().filter((pod) => pod.node === this);
  }

  /**
   * Adds an address to the node (default: on eth0 as a /32 or /128), e.g. an ExternalIP
   * or LoadBalancer IP the node should own.
   */
  async addAddress(address: string, options: { dev?: string; prefix?: number } = {}): Promise<void> {
    await execIn(this.netns, 'ip', ['addr', 'add', hostCidr(address, options.prefix), 'dev', options.dev ?? this.uplink, ...(familyOf(address) === 'ipv6' ? ['nodad'] : [])]);
  }

  async removeAddress(address: string, options: { dev?: string; prefix?: number } = {}): Promise<void> {
    await execIn(this.netns, 'ip', ['addr', 'del', hostCidr(address, options.prefix), 'dev', options.dev ?? this.uplink]);
  }
}

function hostCidr(address: string, prefix: number | undefined): string {
  const family = familyOf(address);
  if (family === undefined) throw new Error(harnessErrorText('KPNG_ERR_NETNS_ADDRESS', `not an IP address: ${address}`));
  return `${address}/${prefix ?? (family === 'ipv4' ? 32 : 128)}`;
}

/** A pod: one interface on its node's pod bridge. */
export class Pod extends Namespace {
  readonly node: Node;
  /** Its place in the node's pod CIDR (slot K has host K + 1). */
  readonly slot: number;
  /** The name of its veth end on the node's pod bridge. */
  readonly hostVeth: string;
  readonly #ips: Map<Family, string>;

  constructor(context: NamespaceContext, fields: { name: string; netns: string; node: Node; slot: number; hostVeth: string; ips: Map<Family, string> }) {
    super(context, 'pod', fields.name, fields.netns);
    this.node = fields.node;
    this.slot = fields.slot;
    this.hostVeth = fields.hostVeth;
    this.#ips = fields.ips;
  }

  /** Its addresses, primary family first. */
  get ips(): string[] {
    return [...this.#ips.values()];
  }

  ip(family?: Family): string {
    return pick(this.#ips, family, `pod ${this.name}`);
  }

  /** Its node's cgroup, if the node has one: a node's pods are that node's processes. */
  override get cgroup(): string | undefined {
    return this.node.cgroup;
  }
}

/** A client outside the cluster: on the shared network, with no other routes until routeVia. */
export class Client extends Namespace {
  readonly index: number;
  readonly #ips: Map<Family, string>;

  constructor(context: NamespaceContext, fields: { name: string; netns: string; index: number; ips: Map<Family, string> }) {
    super(context, 'client', fields.name, fields.netns);
    this.index = fields.index;
    this.#ips = fields.ips;
  }

  get ips(): string[] {
    return [...this.#ips.values()];
  }

  ip(family?: Family): string {
    return pick(this.#ips, family, `client ${this.name}`);
  }

  /** Routes a range (or one address) via a node, e.g. the ExternalIP/LoadBalancer range via the node that announces it. */
  async routeVia(cidr: string, node: Node): Promise<void> {
    const target = cidr.includes('/') ? cidr : hostCidr(cidr, undefined);
    const family = parseCidr(target).family;
    await execIn(this.netns, 'ip', ['route', 'replace', target, 'via', node.ip(family)]);
  }
}

const DAD_OFF = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];
const RP_FILTER_OFF = ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'];

/** Sysctls set in each namespace right after it is made, before it has interfaces. */
const SYSCTLS: Record<NamespaceRole, string[]> = {
  // A plain wire: no addresses of its own, bridged frames not filtered.
  net: ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0', 'net.bridge.bridge-nf-call-arptables=0'],
  node: ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', ...DAD_OFF, ...RP_FILTER_OFF],
  pod: [...DAD_OFF, ...RP_FILTER_OFF],
  client: [...DAD_OFF, ...RP_FILTER_OFF],
};

/** Makes a topology. On failure, whatever was made is removed before the error is thrown. */
export function createTopology(spec: TopologySpec): Promise<Topology> {
  return Topology.create(spec);
}

/** Runs `fn` with a fresh topology and destroys it afterwards, whether `fn` succeeded or threw. */
export async function withTopology<T>(spec: TopologySpec, fn: (topology: Topology) => Promise<T> | T): Promise<T> {
  const topology = await createTopology(spec);
  try {
    return await fn(topology);
  } finally {
    await topology.destroy();
  }
}

let sweptThisProcess = false;
const claimedHere = new Set<string>();

async function reservePrefix(): Promise<string> {
  const existing = new Set((await listNamespaces()).map(prefixOf));
  for (let attempt = 0; attempt < 100; attempt++) {
    const prefix = newPrefix();
    if (claimedHere.has(prefix) || existing.has(prefix)) continue;
    if (!claimPrefix(prefix)) continue;
    claimedHere.add(prefix);
    return prefix;
  }
  throw new Error(harnessErrorText('KPNG_ERR_NETNS_PREFIX', 'found no free run prefix in 100 attempts'));
}

export class Topology {
  /** The run prefix every namespace and veth of this topology carries (`kt3f09-`). */
  readonly prefix: string;
  readonly family: IpFamily;
  /** Its IP families, primary first. */
  readonly families: readonly Family[];
  readonly plan: AddressPlan;
  /** The namespace holding the shared bridge. */
  readonly net: Namespace;
  /**
   * Whether the kernel has br_netfilter, which passes bridged traffic through a node's
   * iptables/ip6tables: without it, a pod reaching a Service whose endpoint is another
   * pod on the same node gets no (un-DNATed) answer, and hairpin traffic is not DNATed.
   */
  readonly bridgeNetfilter = existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables');
  readonly #context: NamespaceContext;
  readonly #nodes = new Map<string, Node>();
  readonly #pods = new Map<string, Pod>();
  readonly #clients = new Map<string, Client>();
  readonly #links: Link[] = [];
  readonly #processes = new Set<NsProcess>();
  readonly #made = new Set<string>();
  /** The run's cgroup folder (nodeCgroups), and the nodes' state folders handed out. */
  #runCgroup: string | undefined;
  readonly #stateDirs = new Set<string>();
  #nextNode = 1;
  #nextClient = 1;
  #nextPodLink = 1;
  /** Per node, the pod slot given out last. */
  readonly #lastSlot = new Map<string, number>();
  #destroying: Promise<void> | undefined;
  #destroyed = false;

  /** Makes a topology (also `createTopology`). On failure, whatever was made is removed before the error is thrown. */
  static async create(spec: TopologySpec): Promise<Topology> {
    const plan = resolvePlan(spec.plan);
    if ((spec.sweep ?? true) && !sweptThisProcess) {
      sweptThisProcess = true;
      await sweepStale();
    }
    const topology = new Topology(await reservePrefix(), spec.family, plan);
    try {
      await topology.#build(spec);
    } catch (error) {
      try {
        await topology.destroy();
      } catch (cleanupError) {
        throw new AggregateError([error, cleanupError], harnessErrorText('KPNG_ERR_NETNS_CREATE', `creating the topology failed, and so did removing it: ${String(error)}`), {
          cause: cleanupError,
        });
      }
      throw error;
    }
    return topology;
  }

  private constructor(prefix: string, family: IpFamily, plan: AddressPlan) {
    this.prefix = prefix;
    this.family = family;
    this.families = familiesOf(family);
    this.plan = plan;
    this.#context = {
      families: this.families,
      track: (child) => {
        this.#checkLive();
        this.#processes.add(child);
        void child.exited.then(() => this.#processes.delete(child));
      },
    };
    this.net = new Namespace(this.#context, 'net', 'net', namespaceName(prefix, 'net'));
    trackLive(this);
  }

  /** Builds the net namespace and what the spec lists. */
  async #build(spec: TopologySpec): Promise<void> {
    if (spec.nodeCgroups) {
      this.#runCgroup = makeRunCgroup(this.prefix);
      recordPlacement(this.prefix, { cgroup: this.#runCgroup, stateDirs: [] });
    }
    await this.#makeNamespace(this.net.netns, 'net');
    const bridge = sharedBridgeName(this.prefix);
    await ipBatch(this.net.netns, ['link set lo up', `link add ${bridge} type bridge mcast_snooping 0`, `link set ${bridge} up`]);
    await settleAll([...(spec.nodes ?? []).map((node) => this.#addNode(node)), ...(spec.clients ?? []).map((client) => this.addClient(client))]);
    await this.#syncNodeRoutes();
    await settleAll((spec.pods ?? []).map((pod) => this.addPod(pod)));
  }

  get nodes(): Node[] {
    return [...this.#nodes.values()].sort((a, b) => a.index - b.index);
  }

  get pods(): Pod[] {
    return [...this.#pods.values()];
  }

  get clients(): Client[] {
    return [...this.#clients.values()].sort((a, b) => a.index - b.index);
  }

  /** The veth pairs made so far. */
  get links(): readonly Link[] {
    return this.#links;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  node(name: string): Node {
    return found(this.#nodes.get(name), 'node', name);
  }

  pod(name: string): Pod {
    return found(this.#pods.get(name), 'pod', name);
  }

  client(name: string): Client {
    return found(this.#clients.get(name), 'client', name);
  }

  /** The cluster CIDRs of the plan in the topology's families (kube-proxy's --cluster-cidr). */
  get clusterCidrs(): string[] {
    return this.families.map((family) => this.plan.cluster[family]);
  }

  /** Whether each node has a cgroup of its own (made with nodeCgroups). */
  get nodeCgroups(): boolean {
    return this.#runCgroup !== undefined;
  }

  /** The kernel names of every namespace this topology made. */
  get namespaces(): string[] {
    return [...this.#made];
  }

  /** Adds a node and routes between it and every other node's pods. */
  async addNode(spec: string | NodeSpec): Promise<Node> {
    const node = await this.#addNode(spec);
    await this.#syncNodeRoutes();
    return node;
  }

  async #addNode(given: string | NodeSpec): Promise<Node> {
    this.#checkLive();
    const spec = typeof given === 'string' ? { name: given } : given;
    checkLogicalName(spec.name);
    if (this.#nodes.has(spec.name)) throw new Error(harnessErrorText('KPNG_ERR_NETNS_DUPLICATE', `node ${spec.name} exists already`));
    const index = this.#nextNode++;
    const ips = new Map<Family, string>();
    const podCidrs = new Map<Family, string>();
    const gateways = new Map<Family, string>();
    // The pod bridge gets an address of its own: a bridge without one takes the lowest
    // address of its ports and changes it as pods come and go, and pods that still have
    // the old one cached for their gateway lose every packet they route for up to a minute.
    const nodeLines = [
      'link set lo up',
      `link set ${UPLINK_IFNAME} up`,
      `link add ${POD_BRIDGE_IFNAME} address ${podBridgeMac(index)} type bridge mcast_snooping 0 nf_call_iptables 1 nf_call_ip6tables 1`,
    ];
    const bridgeLines: string[] = [];
    for (const family of this.families) {
      const address = nodeAddress(this.plan, family, index);
      const podCidr = spec.podCidrs?.[family] ?? podCidrFor(this.plan, family, index);
      if (parseCidr(podCidr).family !== family) throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `node ${spec.name}: pod CIDR ${podCidr} is not ${family}`));
      const gateway = podGateway(podCidr);
      ips.set(family, address.address);
      podCidrs.set(family, podCidr);
      gateways.set(family, gateway.address);
      nodeLines.push(`addr add ${address.cidr} dev ${UPLINK_IFNAME}${nodad(family)}`);
      bridgeLines.push(`addr add ${gateway.cidr} dev ${POD_BRIDGE_IFNAME}${nodad(family)}`);
    }
    nodeLines.push(`link set ${POD_BRIDGE_IFNAME} promisc on`, `link set ${POD_BRIDGE_IFNAME} up`, ...bridgeLines);
    const node = new Node(this.#context, {
      name: spec.name,
      netns: namespaceName(this.prefix, 'node', spec.name),
      index,
      ips,
      podCidrs,
      gateways,
      pods: () => this.pods,
      cgroup: this.#runCgroup === undefined ? undefined : makeNodeCgroup(this.#runCgroup, spec.name),
      stateDir: (under) => this.#stateDir(under, spec.name),
    });
    this.#nodes.set(node.name, node);
    await this.#makeNamespace(node.netns, 'node');
    await this.#attachToSharedNetwork('node', node.name, node.netns, index);
    await ipBatch(node.netns, nodeLines);
    return node;
  }

  /** Sets, on every node, a route to every other node's pod CIDRs via that node. */
  async #syncNodeRoutes(): Promise<void> {
    const nodes = this.nodes;
    await Promise.all(
      nodes.map((node) =>
        ipBatch(
          node.netns,
          nodes.filter((other) => other !== node).flatMap((other) => this.families.map((family) => `route replace ${other.podCidr(family)} via ${other.ip(family)}`)),
        ),
      ),
    );
  }

  /** Adds a client on the shared network. */
  async addClient(name: string): Promise<Client> {
    this.#checkLive();
    checkLogicalName(name);
    if (this.#clients.has(name)) throw new Error(harnessErrorText('KPNG_ERR_NETNS_DUPLICATE', `client ${name} exists already`));
    const index = this.#nextClient++;
    const ips = new Map<Family, string>();
    const lines = ['link set lo up', `link set ${UPLINK_IFNAME} up`];
    for (const family of this.families) {
      const address = clientAddress(this.plan, family, index);
      ips.set(family, address.address);
      lines.push(`addr add ${address.cidr} dev ${UPLINK_IFNAME}${nodad(family)}`);
    }
    const client = new Client(this.#context, { name, netns: namespaceName(this.prefix, 'client', name), index, ips });
    this.#clients.set(name, client);
    await this.#makeNamespace(client.netns, 'client');
    await this.#attachToSharedNetwork('client', name, client.netns, index);
    await ipBatch(client.netns, lines);
    return client;
  }

  /** Adds a pod on a node: a veth on the node's pod bridge, the next address of its pod CIDR (after the last one given out), a default route via the node. */
  async addPod(spec: PodSpec): Promise<Pod> {
    this.#checkLive();
    checkLogicalName(spec.name);
    if (this.#pods.has(spec.name)) throw new Error(harnessErrorText('KPNG_ERR_NETNS_DUPLICATE', `pod ${spec.name} exists already`));
    const node = this.node(spec.node);
    const taken = new Set(node.pods.map((pod) => pod.slot));
    // As host-local IPAM does: the slot after the last one given out on the node, not the
    // lowest free one, so that a new pod does not get the address of a pod just removed
    // (the node and its pods would still send to the old pod's MAC address).
    const fits = (n: number) =>
      this.families.every((family) => {
        try {
          podAddress(node.podCidr(family), n);
          return true;
        } catch {
          return false;
        }
      });
    let slot = (this.#lastSlot.get(node.name) ?? 0) + 1;
    if (!fits(slot)) slot = 1;
    while (taken.has(slot)) {
      slot++;
      if (!fits(slot)) throw new Error(harnessErrorText('KPNG_ERR_NETNS_PLAN', `node ${node.name} has no free address left in ${node.podCidrs.join(', ')}`));
    }
    this.#lastSlot.set(node.name, slot);
    const hostVeth = vethName(this.prefix, 'pod', this.#nextPodLink++);
    const ips = new Map<Family, string>();
    const podLines = ['link set lo up', `link set ${POD_IFNAME} up`];
    for (const family of this.families) {
      const cidr = node.podCidr(family);
      const address = podAddress(cidr, slot);
      ips.set(family, address.address);
      podLines.push(`addr add ${address.cidr} dev ${POD_IFNAME}${nodad(family)}`, `route add default via ${node.gateway(family)}`);
    }
    const pod = new Pod(this.#context, { name: spec.name, netns: namespaceName(this.prefix, 'pod', spec.name), node, slot, hostVeth, ips });
    this.#pods.set(pod.name, pod);
    try {
      await this.#makeNamespace(pod.netns, 'pod');
      await ipBatch(node.netns, [
        `link add ${hostVeth} type veth peer name ${POD_IFNAME} netns ${pod.netns}`,
        `link set ${hostVeth} master ${POD_BRIDGE_IFNAME}`,
        `link set ${hostVeth} type bridge_slave hairpin on`,
        `link set ${hostVeth} up`,
      ]);
      this.#links.push({ kind: 'pod', owner: pod.name, ifname: hostVeth, netns: node.netns, peerIfname: POD_IFNAME, peerNetns: pod.netns });
      await ipBatch(pod.netns, podLines);
    } catch (error) {
      await this.#forgetPod(pod);
      throw error;
    }
    return pod;
  }

  /** Removes a pod: ends its processes and deletes its namespace (and so its veth). */
  async removePod(name: string): Promise<void> {
    await this.#forgetPod(this.pod(name));
  }

  async #forgetPod(pod: Pod): Promise<void> {
    await Promise.all([...this.#processes].filter((child) => child.namespace === pod.netns).map((child) => child.stop({ graceMs: 1_000 })));
    await deleteNamespaces([pod.netns]);
    this.#made.delete(pod.netns);
    this.#pods.delete(pod.name);
    const at = this.#links.findIndex((link) => link.peerNetns === pod.netns);
    if (at >= 0) this.#links.splice(at, 1);
  }

  async #makeNamespace(netns: string, role: NamespaceRole): Promise<void> {
    this.#checkLive();
    this.#made.add(netns);
    await execIn(undefined, 'ip', ['netns', 'add', netns]);
    // -e: the bridge keys exist only where br_netfilter is loaded.
    await execIn(netns, 'sysctl', ['-q', '-e', '-w', ...SYSCTLS[role]]);
  }

  async #attachToSharedNetwork(kind: 'node' | 'client', owner: string, netns: string, index: number): Promise<void> {
    const ifname = vethName(this.prefix, kind, index);
    await ipBatch(this.net.netns, [
      `link add ${ifname} type veth peer name ${UPLINK_IFNAME} netns ${netns}`,
      `link set ${ifname} master ${sharedBridgeName(this.prefix)}`,
      `link set ${ifname} up`,
    ]);
    this.#links.push({ kind, owner, ifname, netns: this.net.netns, peerIfname: UPLINK_IFNAME, peerNetns: netns });
  }

  #stateDir(under: string, node: string): string {
    const dir = nodeStateDir(under, this.prefix, node);
    if (!this.#stateDirs.has(dir)) {
      this.#checkLive();
      this.#stateDirs.add(dir);
      recordPlacement(this.prefix, { ...(this.#runCgroup !== undefined && { cgroup: this.#runCgroup }), stateDirs: [...this.#stateDirs] });
    }
    return dir;
  }

  /** Removes the nodes' cgroups and state folders (after their processes); throws when some are left. */
  #removePlacement(): void {
    const left = removeRunPlacement(this.#runCgroup, [...this.#stateDirs]);
    if (left.length > 0) throw new Error(harnessErrorText('KPNG_ERR_NETNS_CGROUP', `could not remove ${left.join(', ')}`));
  }

  #checkLive(): void {
    if (this.#destroying !== undefined) throw new Error(harnessErrorText('KPNG_ERR_NETNS_DESTROYED', `topology ${this.prefix} is being or has been destroyed`));
  }

  /**
   * Ends every process started in the topology (SIGTERM, then SIGKILL after 1 s), kills
   * whatever else runs in its namespaces, deletes every namespace carrying its prefix,
   * then the nodes' cgroups and state folders. Safe to call more than once.
   */
  destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      await Promise.all([...this.#processes].map((child) => child.stop({ graceMs: 1_000 })));
      const names = new Set([...this.#made, ...(await listNamespaces()).filter((name) => name.startsWith(this.prefix))]);
      await deleteNamespaces([...names]);
      // Left in place (with the marker naming them) when they cannot go: a later sweep retries.
      this.#removePlacement();
      releasePrefix(this.prefix);
      untrackLive(this);
      this.#destroyed = true;
    })();
    return this.#destroying;
  }

  /** The synchronous form of destroy, for exit hooks: kills at once, deletes every namespace. */
  destroySync(): void {
    if (this.#destroyed) return;
    for (const child of this.#processes) child.kill('SIGKILL');
    let names = [...this.#made];
    try {
      names = [...new Set([...names, ...listNamespacesSync().filter((name) => name.startsWith(this.prefix))])];
    } catch {
      // Delete what we know of.
    }
    deleteNamespacesSync(names);
    this.#removePlacement();
    releasePrefix(this.prefix);
    untrackLive(this);
    this.#destroyed = true;
  }
}

/** Waits for every step (so that none still runs when the caller cleans up), then throws the first failure. */
async function settleAll(steps: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(steps);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/** A fixed, locally administered unicast address for node N's pod bridge (each bridge is its own L2 segment). */
export function podBridgeMac(nodeIndex: number): string {
  return `02:6b:74:00:${((nodeIndex >> 8) & 0xff).toString(16).padStart(2, '0')}:${(nodeIndex & 0xff).toString(16).padStart(2, '0')}`;
}

function nodad(family: Family): string {
  return family === 'ipv6' ? ' nodad' : '';
}

function found<T>(value: T | undefined, what: string, name: string): T {
  if (value === undefined) throw new Error(harnessErrorText('KPNG_ERR_NETNS_UNKNOWN', `no ${what} named ${name}`));
  return value;
}
