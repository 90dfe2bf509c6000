// What runs on the lab's nodes, and the lab's stand-ins for the kubelet and the
// endpointslice controller: pods are namespaces with echo servers on their container
// ports; Services are created through the API; after every change to a pod or a Service
// the EndpointSlices of the Services concerned are recomputed (objects.ts) and written.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { IpFamily } from '../../config/index.ts';
import type { EchoServer, Family, Node, Pod, Topology } from '../netns/index.ts';
import type { LabApi } from './kube-api.ts';
import { endpointSlicesFor, planSlices, type ContainerPort, type PodInfo } from './objects.ts';
import { harnessErrorText } from '../../config/error-codes.ts';

export interface PodOptions {
  namespace: string;
  name: string;
  /** The node it runs on. */
  node: string;
  labels?: Record<string, string>;
  /** Its container ports; each gets an echo server (HTTP for TCP, datagrams for UDP). */
  ports: ContainerPort[];
  /** Ready from the start (default true). */
  ready?: boolean;
}

/** A pod of the lab: a namespace on its node's pod bridge, and what the API knows of it. */
export class LabPod {
  readonly name: string;
  readonly namespace: string;
  readonly node: Node;
  /** Its network namespace, to make requests from. */
  readonly netns: Pod;
  readonly labels: Record<string, string>;
  readonly ports: ContainerPort[];
  readonly servers: EchoServer[] = [];
  ready: boolean;
  terminating = false;

  constructor(fields: { name: string; namespace: string; netns: Pod; labels: Record<string, string>; ports: ContainerPort[]; ready: boolean }) {
    this.name = fields.name;
    this.namespace = fields.namespace;
    this.netns = fields.netns;
    this.node = fields.netns.node;
    this.labels = fields.labels;
    this.ports = fields.ports;
    this.ready = fields.ready;
  }

  get ips(): string[] {
    return this.netns.ips;
  }

  ip(family?: Family): string {
    return this.netns.ip(family);
  }

  get key(): string {
    return `${this.namespace}/${this.name}`;
  }
}

export interface WorkloadsOptions {
  api: LabApi;
  topology: Topology;
  zoneOf: (node: string) => string | undefined;
  family: IpFamily;
}

/** Service families as the lab's family asks, unless the Service says otherwise. */
export function withFamilyDefaults(service: V1Service, family: IpFamily): V1Service {
  const spec = { ...service.spec };
  if (spec.ipFamilyPolicy === undefined && spec.ipFamilies === undefined) {
    spec.ipFamilyPolicy = family === 'dual' ? 'RequireDualStack' : 'SingleStack';
    spec.ipFamilies = family === 'dual' ? ['IPv4', 'IPv6'] : [family === 'ipv6' ? 'IPv6' : 'IPv4'];
  }
  return { apiVersion: 'v1', kind: 'Service', ...service, spec };
}

function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Groups container ports by number: one echo server answers HTTP and UDP on the same port. */
function echoServerPorts(ports: readonly ContainerPort[]): { http?: number; udp?: number }[] {
  const byNumber = new Map<number, { http?: number; udp?: number }>();
  for (const port of ports) {
    const entry = byNumber.get(port.containerPort) ?? {};
    if (port.protocol === 'TCP') entry.http = port.containerPort;
    else if (port.protocol === 'UDP') entry.udp = port.containerPort;
    else throw new Error(harnessErrorText('KPNG_ERR_LAB_PROTOCOL', `pod port ${port.containerPort}/${port.protocol}: accepted: TCP, UDP (the lab's kernel has no SCTP)`));
    byNumber.set(port.containerPort, entry);
  }
  return [...byNumber.values()];
}

export class Workloads {
  readonly #o: WorkloadsOptions;
  readonly #pods = new Map<string, LabPod>();
  readonly #byNetnsName = new Map<string, LabPod>();
  readonly #services = new Map<string, V1Service>();
  /** Per Service key, the slices last written, by name. */
  readonly #slices = new Map<string, Map<string, V1EndpointSlice>>();

  constructor(o: WorkloadsOptions) {
    this.#o = o;
  }

  get pods(): LabPod[] {
    return [...this.#pods.values()];
  }

  /** The pod whose echo server answered with this name (its namespace's logical name). */
  podByEchoName(name: string): LabPod | undefined {
    return this.#byNetnsName.get(name);
  }

  /** Starts a pod: its namespace, an echo server per container port; then updates the slices of the Services selecting it. */
  async createPod(opts: PodOptions): Promise<LabPod> {
    const key = serviceKey(opts.namespace, opts.name);
    if (this.#pods.has(key)) throw new Error(harnessErrorText('KPNG_ERR_LAB_DUPLICATE', `pod ${key} exists already`));
    const netnsName = `${opts.namespace}-${opts.name}`;
    const netns = await this.#o.topology.addPod({ name: netnsName, node: opts.node });
    const pod = new LabPod({ name: opts.name, namespace: opts.namespace, netns, labels: opts.labels ?? {}, ports: opts.ports, ready: opts.ready ?? true });
    this.#pods.set(key, pod);
    this.#byNetnsName.set(netnsName, pod);
    try {
      for (const ports of echoServerPorts(opts.ports)) pod.servers.push(await netns.serve(ports));
    } catch (error) {
      await this.#removePod(pod);
      throw error;
    }
    await this.#reconcileNamespace(opts.namespace);
    return pod;
  }

  /** Changes the pod's readiness (its readiness probe passing or failing). */
  async setReady(pod: LabPod, ready: boolean): Promise<void> {
    pod.ready = ready;
    await this.#reconcileNamespace(pod.namespace);
  }

  /**
   * Starts a graceful deletion: the pod keeps running (and serving while `serving`, the
   * default) with its endpoints marked terminating, as during a termination grace period.
   */
  async terminate(pod: LabPod, opts: { serving?: boolean } = {}): Promise<void> {
    pod.terminating = true;
    pod.ready = opts.serving ?? true;
    await this.#reconcileNamespace(pod.namespace);
  }

  /** Ends the pod (its processes and namespace), then removes it from the slices. */
  async deletePod(pod: LabPod): Promise<void> {
    await this.#removePod(pod);
    await this.#reconcileNamespace(pod.namespace);
  }

  async #removePod(pod: LabPod): Promise<void> {
    this.#pods.delete(pod.key);
    await this.#o.topology.removePod(pod.netns.name);
    this.#byNetnsName.delete(pod.netns.name);
  }

  /** Creates a Service (families defaulted to the lab's) and its slices. */
  async createService(namespace: string, service: V1Service): Promise<V1Service> {
    const body = withFamilyDefaults({ ...service, metadata: { ...service.metadata, namespace } }, this.#o.family);
    const created = await this.#o.api.createService(namespace, body);
    this.#services.set(serviceKey(namespace, created.metadata?.name ?? ''), created);
    await this.#reconcile(created);
    return created;
  }

  /** Reads a Service, lets `change` edit it, writes it back, and updates its slices. */
  async updateService(namespace: string, name: string, change: (service: V1Service) => void): Promise<V1Service> {
    const current = await this.#o.api.readService(namespace, name);
    change(current);
    const updated = await this.#o.api.replaceService(current);
    this.#services.set(serviceKey(namespace, name), updated);
    await this.#reconcile(updated);
    return updated;
  }

  /** Writes status.loadBalancer.ingress, as a cloud's load balancer controller would. */
  async setLoadBalancerIngress(namespace: string, name: string, ips: string[]): Promise<V1Service> {
    const current = await this.#o.api.readService(namespace, name);
    current.status = { ...current.status, loadBalancer: { ingress: ips.map((ip) => ({ ip, ipMode: 'VIP' })) } };
    const updated = await this.#o.api.replaceServiceStatus(current);
    this.#services.set(serviceKey(namespace, name), updated);
    return updated;
  }

  /** Deletes a Service and the slices written for it (owner references are not collected without a controller-manager). */
  async deleteService(namespace: string, name: string): Promise<void> {
    const key = serviceKey(namespace, name);
    for (const slice of this.#slices.get(key)?.keys() ?? []) await this.#o.api.deleteEndpointSlice(namespace, slice);
    this.#slices.delete(key);
    this.#services.delete(key);
    await this.#o.api.deleteService(namespace, name);
  }

  /** Deletes every Service, slice and pod this lab made (in a namespace, or all). */
  async deleteAll(namespace?: string): Promise<void> {
    for (const key of [...this.#services.keys()]) {
      const [ns = '', name = ''] = key.split('/');
      if (namespace === undefined || ns === namespace) await this.deleteService(ns, name);
    }
    for (const pod of this.pods) if (namespace === undefined || pod.namespace === namespace) await this.#removePod(pod);
  }

  #podInfo(pod: LabPod): PodInfo {
    const zone = this.#o.zoneOf(pod.node.name);
    return {
      name: pod.name,
      namespace: pod.namespace,
      labels: pod.labels,
      nodeName: pod.node.name,
      ...(zone && { zone }),
      ips: pod.ips,
      ports: pod.ports,
      ready: pod.ready,
      terminating: pod.terminating,
    };
  }

  async #reconcileNamespace(namespace: string): Promise<void> {
    for (const service of this.#services.values()) if (service.metadata?.namespace === namespace) await this.#reconcile(service);
  }

  /** The endpointslice controller's sync of one Service: compute, then write only what changed. */
  async #reconcile(service: V1Service): Promise<void> {
    const key = serviceKey(service.metadata?.namespace ?? '', service.metadata?.name ?? '');
    const written = this.#slices.get(key) ?? new Map<string, V1EndpointSlice>();
    this.#slices.set(key, written);
    const plan = planSlices(written, endpointSlicesFor(service, this.pods.map((pod) => this.#podInfo(pod))));
    for (const slice of plan.create) written.set(slice.metadata?.name ?? '', await this.#o.api.createEndpointSlice(slice));
    for (const slice of plan.update) written.set(slice.metadata?.name ?? '', await this.#o.api.replaceEndpointSlice(slice));
    for (const name of plan.remove) {
      await this.#o.api.deleteEndpointSlice(service.metadata?.namespace ?? '', name);
      written.delete(name);
    }
  }
}
