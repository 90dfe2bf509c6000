// The model's data: cluster objects as the proxy understands them (validated and
// normalized once, when they arrive), and the node-local state computed from them.
import type { IPFamily } from './ip.ts';
import { errorText } from '../errors.ts';

export type { IPFamily };
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const protocols: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type TrafficPolicy = 'Cluster' | 'Local';

export const labelServiceProxyName = 'service.kubernetes.io/service-proxy-name';
export const labelHeadless = 'service.kubernetes.io/headless';
export const labelServiceName = 'kubernetes.io/service-name';
export const labelZone = 'topology.kubernetes.io/zone';
export const annotationSourceRanges = 'service.beta.kubernetes.io/load-balancer-source-ranges';
/** Set by the endpointslice controller: when the change that led to this slice's content happened (RFC 3339). */
export const annotationLastChangeTriggerTime = 'endpoints.kubernetes.io/last-change-trigger-time';
export const taintToBeDeleted = 'ToBeDeletedByClusterAutoscaler';
export const defaultAffinityTimeoutSeconds = 10800;

// ---------------------------------------------------------------------------------
// Cluster objects, normalized

export interface ServicePortSpec {
  /** "" for a single unnamed port. */
  name: string;
  protocol: Protocol;
  port: number;
  /** 0 when the Service has no NodePort for this port. */
  nodePort: number;
  /** A number or the name of a container port (resolved per EndpointSlice). */
  targetPort: number | string;
}

export interface ServiceInfo {
  /** "namespace/name" */
  key: string;
  namespace: string;
  name: string;
  type: ServiceType;
  labels: Readonly<Record<string, string>>;
  /** Canonical cluster IPs, at most one per family; empty for headless Services. */
  clusterIPs: string[];
  headless: boolean;
  externalIPs: string[];
  /** status.loadBalancer.ingress IPs whose ipMode is VIP or unset. */
  loadBalancerIPs: string[];
  /** Canonical CIDRs (spec field, else the legacy annotation). */
  loadBalancerSourceRanges: string[];
  ports: ServicePortSpec[];
  /** Set when sessionAffinity is ClientIP. */
  affinityTimeoutSeconds?: number;
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  /** 0 when none. */
  healthCheckNodePort: number;
  trafficDistribution?: string;
}

export interface EndpointSpec {
  /** The first address (kube-proxy uses only the first), canonical. */
  address: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  zone?: string;
  hostname?: string;
  /** targetRef "Kind/namespace/name", for humans. */
  targetRef?: string;
  zoneHints: string[];
  nodeHints: string[];
}

export interface SlicePortSpec {
  name: string;
  protocol: Protocol;
  port: number;
}

export interface SliceInfo {
  /** "namespace/name" of the EndpointSlice. */
  key: string;
  namespace: string;
  name: string;
  /** "namespace/service-name" from the kubernetes.io/service-name label. */
  serviceKey: string;
  addressType: IPFamily;
  ports: SlicePortSpec[];
  endpoints: EndpointSpec[];
  /** The endpoints.kubernetes.io/last-change-trigger-time annotation, ms since the epoch (absent or unparseable: undefined). */
  changeTriggerTime?: number;
}

export interface NodeAddress {
  type: string;
  address: string;
}

export interface NodeInfo {
  name: string;
  labels: Readonly<Record<string, string>>;
  zone?: string;
  addresses: NodeAddress[];
  /** metadata.deletionTimestamp is set. */
  deleting: boolean;
  /** Tainted ToBeDeletedByClusterAutoscaler. */
  toBeDeleted: boolean;
}

/** A problem with one object: it was skipped, everything else goes on. */
export interface ObjectWarning {
  kind: 'Service' | 'EndpointSlice' | 'Node' | 'object';
  /** "namespace/name" or name; "" when even that is missing. */
  object: string;
  /** The field at fault, as a path: "spec.ports[0].port". */
  field: string;
  message: string;
}

export function formatWarning(w: ObjectWarning): string {
  // A name out of the printable ASCII range is quoted, so it cannot forge log lines.
  const object = w.object === '' ? '(unnamed)' : /^[\x21-\x7e]+$/.test(w.object) ? w.object : JSON.stringify(w.object);
  return errorText('KPNG_ERR_BAD_OBJECT', `skipped ${w.kind} ${object}: ${w.field}: ${w.message}`);
}

// ---------------------------------------------------------------------------------
// Node-local state: what one node must do for every service port

export interface LocalEndpoint {
  address: string;
  family: IPFamily;
  port: number;
  /** On this node. */
  local: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  zone?: string;
  hostname?: string;
  targetRef?: string;
}

export interface ServicePortState {
  /** kube-proxy's ServicePortName: "namespace/name:portName" (no ":" part when unnamed). */
  key: string;
  serviceKey: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  port: number;
  /** 0 when none. */
  nodePort: number;
  clusterIPs: string[];
  externalIPs: string[];
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  /** Present when sessionAffinity is ClientIP. */
  affinityTimeoutSeconds?: number;
  internalPolicyLocal: boolean;
  externalPolicyLocal: boolean;
  /** 0 when none. */
  healthCheckNodePort: number;
  /** Endpoints for traffic to the cluster IPs (internalTrafficPolicy applied). */
  internalEndpoints: LocalEndpoint[];
  /** Endpoints for NodePort, ExternalIP and LoadBalancer traffic (externalTrafficPolicy applied); empty when not externally accessible. */
  externalEndpoints: LocalEndpoint[];
  /**
   * The cluster-wide endpoints. Equal to internalEndpoints unless internalTrafficPolicy
   * is Local; with externalTrafficPolicy Local, external traffic from local pods and the
   * host itself goes here (kube-proxy's short circuit).
   */
  clusterEndpoints: LocalEndpoint[];
  /** Per family: whether any usable endpoint exists anywhere (false → REJECT, else DROP where a policy leaves none). */
  hasEndpoints: Partial<Record<IPFamily, boolean>>;
}

export interface LocalNode {
  name: string;
  zone?: string;
  labels: Readonly<Record<string, string>>;
  addresses: NodeAddress[];
  /** Whether the Node object is known at all. */
  known: boolean;
  deleting: boolean;
  toBeDeleted: boolean;
}

export interface LocalState {
  node: LocalNode;
  /** By ServicePortState.key. Entries that did not change are shared with the previous state. */
  servicePorts: ReadonlyMap<string, ServicePortState>;
}

export interface ModelOptions {
  nodeName: string;
  /** Only Services labelled service.kubernetes.io/service-proxy-name=<this> count; unset: only unlabelled ones. */
  serviceProxyName?: string;
}
