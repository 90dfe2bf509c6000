// Builders for Service, EndpointSlice and Node objects, for tests and benchmarks across
// the project: small inputs that read like the objects they stand for; and stillAlive(),
// for tests that count what stays in memory.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { ClusterState } from './cluster-state.ts';
import { localChanges } from './changes.ts';
import { computeLocalState } from './local-state.ts';
import type { LocalState, ModelOptions } from './types.ts';
import { nodeView, viewChanges, type ViewChanges } from './view.ts';

export interface ServiceOpts {
  namespace?: string;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  clusterIPs?: string[];
  ports?: Array<{ name?: string; port: number; protocol?: string; nodePort?: number; targetPort?: number | string }>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  externalIPs?: string[];
  lbIngress?: Array<{ ip?: string; hostname?: string; ipMode?: string }>;
  sourceRanges?: string[];
  affinity?: boolean | number;
  etp?: 'Cluster' | 'Local';
  itp?: 'Cluster' | 'Local';
  healthCheckNodePort?: number;
  trafficDistribution?: string;
}

export function service(name: string, o: ServiceOpts = {}): V1Service {
  const clusterIPs = o.clusterIPs ?? ['10.96.0.10'];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: o.namespace ?? 'default', ...(o.labels && { labels: o.labels }), ...(o.annotations && { annotations: o.annotations }) },
    spec: {
      type: o.type ?? 'ClusterIP',
      ...(o.type !== 'ExternalName' && { clusterIP: clusterIPs[0], clusterIPs }),
      ports: (o.ports ?? [{ port: 80, targetPort: 8080 }]).map((p) => ({
        ...(p.name !== undefined && { name: p.name }),
        port: p.port,
        protocol: p.protocol ?? 'TCP',
        ...(p.nodePort !== undefined && { nodePort: p.nodePort }),
        targetPort: (p.targetPort ?? p.port) as never,
      })),
      ...(o.externalIPs && { externalIPs: o.externalIPs }),
      ...(o.sourceRanges && { loadBalancerSourceRanges: o.sourceRanges }),
      ...(o.affinity !== undefined &&
        o.affinity !== false && {
          sessionAffinity: 'ClientIP',
          ...(typeof o.affinity === 'number' && { sessionAffinityConfig: { clientIP: { timeoutSeconds: o.affinity } } }),
        }),
      ...(o.etp && { externalTrafficPolicy: o.etp }),
      ...(o.itp && { internalTrafficPolicy: o.itp }),
      ...(o.healthCheckNodePort !== undefined && { healthCheckNodePort: o.healthCheckNodePort }),
      ...(o.trafficDistribution && { trafficDistribution: o.trafficDistribution }),
    },
    ...(o.lbIngress && { status: { loadBalancer: { ingress: o.lbIngress as never } } }),
  };
}

export interface EndpointOpts {
  ip: string;
  node?: string;
  zone?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  zoneHints?: string[];
  nodeHints?: string[];
  pod?: string;
}

export function slice(
  name: string,
  serviceName: string,
  endpoints: Array<string | EndpointOpts>,
  o: { namespace?: string; addressType?: 'IPv4' | 'IPv6'; ports?: Array<{ name?: string; port: number; protocol?: string }>; labels?: Record<string, string> } = {},
): V1EndpointSlice {
  const eps = endpoints.map((e) => (typeof e === 'string' ? { ip: e } : e));
  const addressType = o.addressType ?? (eps[0]?.ip.includes(':') ? 'IPv6' : 'IPv4');
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: o.namespace ?? 'default', labels: { 'kubernetes.io/service-name': serviceName, ...o.labels } },
    addressType,
    ports: (o.ports ?? [{ port: 8080 }]).map((p) => ({ ...(p.name !== undefined && { name: p.name }), port: p.port, protocol: p.protocol ?? 'TCP' })),
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready !== undefined && { ready: e.ready }),
        ...(e.serving !== undefined && { serving: e.serving }),
        ...(e.terminating !== undefined && { terminating: e.terminating }),
      },
      ...(e.node && { nodeName: e.node }),
      ...(e.zone && { zone: e.zone }),
      ...(e.pod && { targetRef: { kind: 'Pod', namespace: o.namespace ?? 'default', name: e.pod } }),
      ...((e.zoneHints || e.nodeHints) && {
        hints: {
          ...(e.zoneHints && { forZones: e.zoneHints.map((z) => ({ name: z })) }),
          ...(e.nodeHints && { forNodes: e.nodeHints.map((n) => ({ name: n })) }),
        },
      }),
    })),
  };
}

export function node(name: string, o: { zone?: string; addresses?: string[]; deleting?: boolean; taints?: string[] } = {}): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, ...(o.zone && { 'topology.kubernetes.io/zone': o.zone }) },
      ...(o.deleting && { deletionTimestamp: new Date('2026-01-01T00:00:00Z') }),
    },
    ...(o.taints && { spec: { taints: o.taints.map((key) => ({ key, effect: 'NoSchedule' })) } }),
    status: { addresses: (o.addresses ?? []).map((address) => ({ type: 'InternalIP', address })) },
  };
}

/** A cluster state holding these objects; throws if any of them is malformed. */
export function clusterOf(objects: unknown[]): ClusterState {
  const cluster = new ClusterState();
  const { warnings } = cluster.replaceAll(objects);
  if (warnings.length > 0) throw new Error(`malformed test object: ${JSON.stringify(warnings[0])}`);
  return cluster;
}

export function localStateOf(objects: unknown[], opts: ModelOptions | string = 'node-a'): LocalState {
  return computeLocalState(clusterOf(objects), typeof opts === 'string' ? { nodeName: opts } : opts);
}

/**
 * A synthetic cluster for benchmarks: `services` ClusterIP Services with `endpointsPerService`
 * endpoints each, spread over `nodes` nodes (endpoint i of a Service lives on node i % nodes).
 */
export function syntheticObjects(services: number, endpointsPerService: number, nodes = 100): unknown[] {
  const objects: unknown[] = [];
  for (let n = 0; n < nodes; n++) objects.push(node(`node-${n}`, { zone: `zone-${n % 3}` }));
  for (let s = 0; s < services; s++) {
    const name = `svc-${s}`;
    objects.push(service(name, { namespace: 'bench', clusterIPs: [`10.${96 + (s >> 16)}.${(s >> 8) & 255}.${s & 255}`], ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
    objects.push(syntheticSlice(s, endpointsPerService, nodes));
  }
  return objects;
}

/** The EndpointSlice of synthetic Service `s`; `shift` moves its endpoints (a change). */
export function syntheticSlice(s: number, endpointsPerService: number, nodes = 100, shift = 0): unknown {
  const eps: EndpointOpts[] = [];
  for (let e = 0; e < endpointsPerService; e++) {
    const n = s * endpointsPerService + e + shift;
    eps.push({ ip: `10.${128 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`, node: `node-${(s + e) % nodes}` });
  }
  return slice(`svc-${s}-1`, `svc-${s}`, eps, { namespace: 'bench', ports: [{ name: 'http', port: 8080 }] });
}

let gc: (() => void) | undefined;

/**
 * How many of these objects are still in memory after a full garbage collection: what a
 * test of retained structures counts (never RSS). Works without `node --expose-gc`.
 */
export async function stillAlive(refs: ReadonlyArray<WeakRef<object>>): Promise<number> {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  // A WeakRef keeps its target until the job that made or read it ends: let it end first.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return refs.filter((r) => r.deref() !== undefined).length;
}

/** What differs from prev to next, as the runtime hands it to a backend (no prev: everything added). */
export function changesBetween(prev: LocalState | undefined, next: LocalState): ViewChanges {
  return viewChanges(prev && nodeView(prev), nodeView(next), prev && localChanges(prev, next).servicePorts);
}
