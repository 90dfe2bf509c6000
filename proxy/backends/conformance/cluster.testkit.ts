// The cluster the dataplane conformance suite runs: many Services, one per behaviour, in
// one netns topology of two nodes (a, b), four pods (two on each) and two outside
// clients. Pure: it turns the topology's addresses and the Services' current endpoints
// into the Service, EndpointSlice and Node objects of a snapshot.
import { type Family, planAddress, type Topology } from '../../../harness/lab/netns/index.ts';
import { node, service, slice } from '../../model/testing.ts';

export const namespace = 'conformance';
/** Where the pods' echo servers listen. */
export const podPorts = { http: 8080, udp: 5353 } as const;
/** The Services' own ports. */
export const servicePorts = { http: 80, udp: 53 } as const;

export const nodes = ['node-a', 'node-b'] as const;
export const pods = [
  { name: 'pod-a1', node: 'node-a' },
  { name: 'pod-a2', node: 'node-a' },
  { name: 'pod-b1', node: 'node-b' },
  { name: 'pod-b2', node: 'node-b' },
] as const;
/** client-1 is inside the LoadBalancer's source ranges, client-2 outside. */
export const clients = ['client-1', 'client-2'] as const;

export type PodName = (typeof pods)[number]['name'];

export interface ServiceSpec {
  /** Host number of its ClusterIP in the plan's service range (and of its external IP in the external range). */
  host: number;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  /** The HTTP port's NodePort (NodePort and LoadBalancer Services). */
  nodePort?: number;
  /** Also a UDP port (53 → the pods' 5353), with this NodePort if any. */
  udp?: boolean | { nodePort: number };
  /** Endpoints at the start; undefined: no EndpointSlice at all. */
  endpoints?: PodName[];
  etp?: 'Local';
  itp?: 'Local';
  healthCheckNodePort?: number;
  /** sessionAffinity ClientIP with this timeoutSeconds. */
  affinity?: number;
  /** An ExternalIP (host `host` of the external range). */
  externalIP?: boolean;
  /** A LoadBalancer ingress IP (host `host` of the external range), reachable only from these clients. */
  loadBalancer?: { sourceRanges: (typeof clients)[number][] };
}

/** One Service per behaviour the suite proves. */
export const suiteServices = {
  /** NodePort (externalTrafficPolicy Cluster), both endpoints on node b; also the ClusterIP load-balancing case. */
  web: { host: 10, type: 'NodePort', nodePort: 30080, endpoints: ['pod-b1', 'pod-b2'] },
  /** externalTrafficPolicy Local, the endpoint on node b; its health check node port. */
  local: { host: 11, type: 'NodePort', nodePort: 30081, etp: 'Local', healthCheckNodePort: 31081, endpoints: ['pod-b1'] },
  /** ClientIP affinity with a short timeout, three endpoints. */
  sticky: { host: 12, affinity: 1, endpoints: ['pod-a2', 'pod-b1', 'pod-b2'] },
  /** No endpoints at all: TCP and UDP, ClusterIP and NodePort. */
  empty: { host: 13, type: 'NodePort', nodePort: 30083, udp: { nodePort: 30084 } },
  /** Its only endpoint is pod-a1, which reaches itself through it. */
  hairpin: { host: 14, endpoints: ['pod-a1'] },
  /** UDP; its endpoint moves from pod-b1 to pod-b2 during the suite. */
  dns: { host: 15, udp: true, endpoints: ['pod-b1'] },
  /** LoadBalancer with source ranges that hold client-1 only. */
  lb: { host: 16, type: 'LoadBalancer', nodePort: 30086, loadBalancer: { sourceRanges: ['client-1'] }, endpoints: ['pod-b1'] },
  /** internalTrafficPolicy Local, an endpoint on each node. */
  itp: { host: 17, itp: 'Local', endpoints: ['pod-a1', 'pod-b1'] },
  /** internalTrafficPolicy Local, no endpoint on node a. */
  'itp-remote': { host: 18, itp: 'Local', endpoints: ['pod-b1'] },
  /** An ExternalIP. */
  ext: { host: 19, externalIP: true, endpoints: ['pod-b2'] },
  /** Gains an endpoint during the suite: the partial sync case. */
  growing: { host: 20, endpoints: ['pod-b1'] },
  /** Removed during the fault tests while something else holds its rules. */
  victim: { host: 21, endpoints: ['pod-b2'] },
} satisfies Record<string, ServiceSpec>;

export type ServiceName = keyof typeof suiteServices;

/** The Services and their endpoints as they are now: what the tests change, and what the snapshot holds. */
export class SuiteCluster {
  readonly #topology: Topology;
  readonly #endpoints = new Map<ServiceName, PodName[] | undefined>();
  readonly #removed = new Set<ServiceName>();

  constructor(topology: Topology) {
    this.#topology = topology;
    for (const [name, spec] of Object.entries(suiteServices) as [ServiceName, ServiceSpec][]) this.#endpoints.set(name, spec.endpoints);
  }

  setEndpoints(name: ServiceName, endpoints: PodName[]): void {
    this.#endpoints.set(name, endpoints);
  }

  remove(name: ServiceName): void {
    this.#removed.add(name);
  }

  clusterIP(name: ServiceName, family: Family): string {
    return planAddress(this.#topology.plan.service[family], suiteServices[name].host);
  }

  /** The ExternalIP or LoadBalancer IP of a Service that has one. */
  externalIP(name: ServiceName, family: Family): string {
    return planAddress(this.#topology.plan.external[family], suiteServices[name].host);
  }

  /** The Service, EndpointSlice and Node objects, in a stable order. */
  objects(): unknown[] {
    const t = this.#topology;
    const out: unknown[] = t.nodes.map((n) => node(n.name, { addresses: n.ips }));
    for (const [name, endpoints] of this.#endpoints) {
      if (this.#removed.has(name)) continue;
      const spec: ServiceSpec = suiteServices[name];
      const ports = [
        { name: 'http', port: servicePorts.http, targetPort: podPorts.http, ...(spec.nodePort !== undefined && { nodePort: spec.nodePort }) },
        ...(spec.udp
          ? [{ name: 'dns', port: servicePorts.udp, protocol: 'UDP', targetPort: podPorts.udp, ...(typeof spec.udp === 'object' && { nodePort: spec.udp.nodePort }) }]
          : []),
      ];
      const external = t.families.map((f) => this.externalIP(name, f));
      out.push(
        service(name, {
          namespace,
          type: spec.type ?? 'ClusterIP',
          clusterIPs: t.families.map((f) => this.clusterIP(name, f)),
          ports,
          ...(spec.etp && { etp: spec.etp }),
          ...(spec.itp && { itp: spec.itp }),
          ...(spec.healthCheckNodePort !== undefined && { healthCheckNodePort: spec.healthCheckNodePort }),
          ...(spec.affinity !== undefined && { affinity: spec.affinity }),
          ...(spec.externalIP && { externalIPs: external }),
          ...(spec.loadBalancer && {
            lbIngress: external.map((ip) => ({ ip })),
            sourceRanges: spec.loadBalancer.sourceRanges.flatMap((c) => t.client(c).ips.map((ip) => `${ip}/${ip.includes(':') ? 128 : 32}`)),
          }),
        }),
      );
      if (endpoints === undefined) continue;
      const slicePorts = [{ name: 'http', port: podPorts.http }, ...(spec.udp ? [{ name: 'dns', port: podPorts.udp, protocol: 'UDP' }] : [])];
      for (const family of t.families) {
        const eps = endpoints.map((p) => ({ ip: t.pod(p).ip(family), node: t.pod(p).node.name, pod: p }));
        out.push(slice(`${name}-${family}`, name, eps, { namespace, addressType: family === 'ipv4' ? 'IPv4' : 'IPv6', ports: slicePorts }));
      }
    }
    return out;
  }
}
