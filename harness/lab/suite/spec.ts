// A lab conformance spec, and what it gets to work with: the lab, a namespace of its
// own, pods and Services that are removed after it, and the traffic expectations.
import type { V1Service } from '@kubernetes/client-node';
import type { ContainerPort, Lab, LabPod } from '../cluster/index.ts';
import { planAddress, type Client, type Family, type Node } from '../netns/index.ts';
import { Traffic, type Target } from './traffic.ts';
import { ENDPOINT_LAG_TIMEOUT_MS, SpecFailure, waitFor, type CheckResult, type WaitOptions } from './wait.ts';

/** What a spec needs from the lab; unmet, the spec is skipped with the reason. */
export type Requirement = 'dual' | 'bridge-netfilter' | { nodes: number };

export interface LabSpec {
  /** Stable id, e.g. "session-affinity-clusterip". */
  id: string;
  /** The upstream spec it follows, by its full name (the JUnit test case name). */
  upstream: string;
  /** Where that spec lives in kubernetes/kubernetes. */
  source: string;
  requires?: Requirement[];
  /** Takes several times longer than most (waits out timeouts, many phases): started first when specs run in parallel. */
  slow?: boolean;
  run(ctx: SpecContext): Promise<void>;
}

/** Why the lab cannot run the spec, or undefined when it can. */
export function unmetRequirement(spec: LabSpec, lab: { family: string; nodes: readonly unknown[]; bridgeNetfilter: boolean }): string | undefined {
  for (const need of spec.requires ?? []) {
    if (need === 'dual' && lab.family !== 'dual') return `needs both IP families (the lab runs ${lab.family})`;
    if (need === 'bridge-netfilter' && !lab.bridgeNetfilter) return 'needs br_netfilter (bridged pod traffic through the node rules), which this kernel lacks';
    if (typeof need === 'object' && lab.nodes.length < need.nodes) return `needs ${need.nodes} nodes (the lab has ${lab.nodes.length})`;
  }
  return undefined;
}

export interface PodRequest {
  node: Node | string;
  labels?: Record<string, string>;
  /** Container ports (default: 8080/TCP named http and 8081/UDP named udp, as agnhost netexec). */
  ports?: ContainerPort[];
  ready?: boolean;
}

/** agnhost netexec's ports: HTTP on 8080, UDP on 8081. */
export const NETEXEC_PORTS: ContainerPort[] = [
  { name: 'http', containerPort: 8080, protocol: 'TCP' },
  { name: 'udp', containerPort: 8081, protocol: 'UDP' },
];

/** Where a test of the suite itself can step in (to break what a spec checks, on purpose). */
export interface SpecHooks {
  /** Once per spec, before its first request through the lab (when it has set up what it checks). */
  beforeTraffic?(ctx: SpecContext): Promise<void>;
}

export interface SpecContextOptions {
  /** How long waits for the dataplane may take (default ENDPOINT_LAG_TIMEOUT_MS). */
  lagTimeoutMs?: number;
  hooks?: SpecHooks;
}

export class SpecContext {
  readonly lab: Lab;
  /** The spec's own Kubernetes namespace. */
  readonly namespace: string;
  readonly traffic: Traffic;
  /** The deadline of every wait for convergence. */
  readonly lagTimeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #hooks: SpecHooks;

  constructor(lab: Lab, namespace: string, log: (line: string) => void, opts: SpecContextOptions = {}) {
    this.lab = lab;
    this.namespace = namespace;
    this.#log = log;
    this.#hooks = opts.hooks ?? {};
    this.lagTimeoutMs = opts.lagTimeoutMs ?? ENDPOINT_LAG_TIMEOUT_MS;
    const beforeTraffic = this.#hooks.beforeTraffic;
    this.traffic = new Traffic((echoName) => lab.workloads.podByEchoName(echoName)?.name ?? echoName, {
      wait: { timeoutMs: this.lagTimeoutMs },
      ...(beforeTraffic && { beforeFirst: () => beforeTraffic(this) }),
    });
  }

  log(line: string): void {
    this.#log(line);
  }

  /** The lab's families, primary first. */
  get families(): readonly Family[] {
    return this.lab.families;
  }

  get primary(): Family {
    return this.lab.families[0] ?? 'ipv4';
  }

  get nodes(): Node[] {
    return this.lab.nodes;
  }

  get clients(): Client[] {
    return this.lab.clients;
  }

  /** Throws a SpecFailure with the message unless the condition holds. */
  expect(condition: boolean, message: string): void {
    if (!condition) throw new SpecFailure(message);
  }

  /** Polls `check` until it passes, with the spec's lag timeout as deadline unless `opts` says otherwise. */
  waitFor<T>(what: string, check: () => Promise<CheckResult<T>>, opts: WaitOptions = {}): Promise<T> {
    return waitFor(what, check, { timeoutMs: this.lagTimeoutMs, ...opts });
  }

  /** Starts a pod in the spec's namespace. */
  pod(name: string, request: PodRequest): Promise<LabPod> {
    return this.lab.workloads.createPod({
      namespace: this.namespace,
      name,
      node: typeof request.node === 'string' ? request.node : request.node.name,
      labels: request.labels ?? {},
      ports: request.ports ?? NETEXEC_PORTS,
      ...(request.ready !== undefined && { ready: request.ready }),
    });
  }

  /** A pod that only makes requests (no labels, no servers). */
  clientPod(name: string, node: Node | string): Promise<LabPod> {
    return this.pod(name, { node, ports: [] });
  }

  /** Creates a Service in the spec's namespace (families default to the lab's). */
  service(service: V1Service): Promise<V1Service> {
    return this.lab.workloads.createService(this.namespace, service);
  }

  updateService(name: string, change: (service: V1Service) => void): Promise<V1Service> {
    return this.lab.workloads.updateService(this.namespace, name, change);
  }

  deleteService(name: string): Promise<void> {
    return this.lab.workloads.deleteService(this.namespace, name);
  }

  setLoadBalancerIngress(name: string, ips: string[]): Promise<V1Service> {
    return this.lab.workloads.setLoadBalancerIngress(this.namespace, name, ips);
  }

  terminate(pod: LabPod, opts?: { serving?: boolean }): Promise<void> {
    return this.lab.workloads.terminate(pod, opts);
  }

  deletePod(pod: LabPod): Promise<void> {
    return this.lab.workloads.deletePod(pod);
  }

  setReady(pod: LabPod, ready: boolean): Promise<void> {
    return this.lab.workloads.setReady(pod, ready);
  }

  /** The Service's cluster IP in a family (default: primary). */
  clusterIP(service: V1Service, family: Family = this.primary): string {
    const ip = (service.spec?.clusterIPs ?? []).find((a) => (a.includes(':') ? 'ipv6' : 'ipv4') === family);
    if (!ip) throw new SpecFailure(`Service ${service.metadata?.name} has no ${family} cluster IP (clusterIPs: ${(service.spec?.clusterIPs ?? []).join(', ') || 'none'})`);
    return ip;
  }

  /** The NodePort the API allocated to the Service's port (by name; default the first). */
  nodePort(service: V1Service, portName?: string): number {
    const port = (service.spec?.ports ?? []).find((p) => portName === undefined || p.name === portName);
    if (!port?.nodePort) throw new SpecFailure(`Service ${service.metadata?.name} has no NodePort${portName ? ` for port ${portName}` : ''}`);
    return port.nodePort;
  }

  /** The n-th address (from 1) of the lab's range for ExternalIPs and LoadBalancer IPs. */
  externalAddress(n: number, family: Family = this.primary): string {
    return planAddress(this.lab.topology.plan.external[family], n);
  }

  /** A Service's cluster IP and port as a request target. */
  clusterTarget(service: V1Service, port: number, opts: { family?: Family; protocol?: 'TCP' | 'UDP' } = {}): Target {
    return { ip: this.clusterIP(service, opts.family), port, protocol: opts.protocol ?? 'TCP' };
  }

  /** Routes `address` from every outside client via `node` (as a router announcing an LB or ExternalIP would). */
  async routeFromClients(address: string, node: Node): Promise<void> {
    await Promise.all(this.clients.map((client) => client.routeVia(address, node)));
  }
}
