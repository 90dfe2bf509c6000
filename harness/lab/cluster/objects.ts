// The API objects the lab writes in place of a kubelet and the endpointslice controller.
// Pure. The EndpointSlice rules follow pkg/controller/endpointslice (utils.go, reconciler.go):
//   - a Service with a selector gets one slice per IP family of the Service (addressType);
//   - every pod matching the selector that has an address of that family is an endpoint,
//     terminating pods included;
//   - ready = pod ready (or publishNotReadyAddresses) and not terminating, unless
//     publishNotReadyAddresses; serving = pod ready; terminating = being deleted;
//   - each Service port is resolved per pod (a number, or a named container port);
//     pods whose ports resolve alike share a slice; a pod lacking a named port is left
//     out of that port's slice;
//   - with spec.trafficDistribution PreferClose / PreferSameZone every endpoint gets a
//     hint for its own zone (PreferSameNode adds its node), when every endpoint has a zone;
//   - slices carry the Service's labels, kubernetes.io/service-name, the managed-by label,
//     and service.kubernetes.io/headless for headless Services.
import type { V1Endpoint, V1EndpointHints, V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';

export const labelServiceName = 'kubernetes.io/service-name';
export const labelManagedBy = 'endpointslice.kubernetes.io/managed-by';
export const labelHeadless = 'service.kubernetes.io/headless';
export const labelServiceProxyName = 'service.kubernetes.io/service-proxy-name';
export const labelZone = 'topology.kubernetes.io/zone';
export const labelHostname = 'kubernetes.io/hostname';
/** What the lab writes in the managed-by label (the real controller writes endpointslice-controller.k8s.io). */
export const managedBy = 'kpng-lab';

export type Family = 'ipv4' | 'ipv6';
export type AddressType = 'IPv4' | 'IPv6';

export function addressTypeOf(family: Family): AddressType {
  return family === 'ipv4' ? 'IPv4' : 'IPv6';
}

export interface LabNodeInput {
  name: string;
  /** InternalIPs, primary family first. */
  ips: string[];
  podCidrs: string[];
  zone?: string;
}

/** A Node as a kubelet registers it: hostname and zone labels, pod CIDRs, InternalIP and Hostname addresses. */
export function nodeObject(input: LabNodeInput): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: input.name,
      labels: { [labelHostname]: input.name, 'kubernetes.io/os': 'linux', ...(input.zone && { [labelZone]: input.zone }) },
    },
    spec: { podCIDR: input.podCidrs[0], podCIDRs: input.podCidrs },
    status: {
      addresses: [...input.ips.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: input.name }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'lab node' }],
    },
  };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** What the controller needs to know about a pod. */
export interface PodInfo {
  name: string;
  namespace: string;
  uid?: string;
  labels: Record<string, string>;
  nodeName: string;
  /** The zone of its node, if the node has one. */
  zone?: string;
  /** Its addresses, one per family. */
  ips: string[];
  ports: ContainerPort[];
  ready: boolean;
  /** Being deleted (deletionTimestamp set): still running, maybe still serving. */
  terminating: boolean;
}

function familyOfAddress(address: string): Family {
  return address.includes(':') ? 'ipv6' : 'ipv4';
}

export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

interface ResolvedPort {
  name: string;
  protocol: string;
  port: number;
}

/** The pod's port for each Service port (podutil.FindPort); a port the pod lacks is left out. */
function resolvePorts(service: V1Service, pod: PodInfo): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const sp of service.spec?.ports ?? []) {
    const protocol = sp.protocol ?? 'TCP';
    const target = sp.targetPort ?? sp.port;
    let port: number | undefined;
    if (typeof target === 'number') port = target;
    else if (/^\d+$/.test(target)) port = Number(target);
    else port = pod.ports.find((p) => p.name === target && p.protocol === protocol)?.containerPort;
    if (port !== undefined) out.push({ name: sp.name ?? '', protocol, port });
  }
  return out;
}

function hintsFor(service: V1Service, pod: PodInfo): V1EndpointHints | undefined {
  const distribution = service.spec?.trafficDistribution;
  if (!pod.zone || !distribution) return undefined;
  if (distribution === 'PreferClose' || distribution === 'PreferSameZone') return { forZones: [{ name: pod.zone }] };
  if (distribution === 'PreferSameNode') return { forZones: [{ name: pod.zone }], forNodes: [{ name: pod.nodeName }] };
  return undefined;
}

/** The Service's IP families: spec.ipFamilies, else the family of its cluster IPs, else IPv4. */
export function serviceFamilies(service: V1Service): Family[] {
  const declared = (service.spec?.ipFamilies ?? []).map((f) => (f === 'IPv6' ? 'ipv6' : 'ipv4') as Family);
  if (declared.length > 0) return declared;
  const ips = (service.spec?.clusterIPs ?? []).filter((ip) => ip !== 'None' && ip !== '');
  return ips.length > 0 ? ips.map(familyOfAddress) : ['ipv4'];
}

/** The slices the endpointslice controller wants for a Service, given every pod in its namespace. Empty for a Service without selector. */
export function endpointSlicesFor(service: V1Service, pods: readonly PodInfo[]): V1EndpointSlice[] {
  const meta = service.metadata ?? {};
  const name = meta.name ?? '';
  const namespace = meta.namespace ?? 'default';
  if (!service.spec?.selector || Object.keys(service.spec.selector).length === 0) return [];
  const publishNotReady = service.spec.publishNotReadyAddresses === true;
  const headless = service.spec.clusterIP === 'None';
  const labels: Record<string, string> = { ...(meta.labels ?? {}), [labelServiceName]: name, [labelManagedBy]: managedBy, ...(headless && { [labelHeadless]: '' }) };
  const matching = pods.filter((pod) => pod.namespace === namespace && selectorMatches(service.spec?.selector, pod.labels));
  const slices: V1EndpointSlice[] = [];
  for (const family of serviceFamilies(service)) {
    const groups = new Map<string, { ports: ResolvedPort[]; endpoints: V1Endpoint[] }>();
    for (const pod of matching) {
      const address = pod.ips.find((ip) => familyOfAddress(ip) === family);
      if (address === undefined) continue;
      const ports = resolvePorts(service, pod);
      const key = JSON.stringify(ports);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { ports, endpoints: [] }));
      const hints = hintsFor(service, pod);
      group.endpoints.push({
        addresses: [address],
        conditions: { ready: (pod.ready || publishNotReady) && (!pod.terminating || publishNotReady), serving: pod.ready, terminating: pod.terminating },
        nodeName: pod.nodeName,
        ...(pod.zone && { zone: pod.zone }),
        targetRef: { kind: 'Pod', namespace, name: pod.name, ...(pod.uid && { uid: pod.uid }) },
        ...(hints && { hints }),
      });
    }
    // A Service without endpoints still gets one (empty) slice per family.
    if (groups.size === 0) groups.set('', { ports: resolvePortsWithoutPods(service), endpoints: [] });
    let index = 0;
    for (const group of [...groups.values()].sort((a, b) => JSON.stringify(a.ports).localeCompare(JSON.stringify(b.ports)))) {
      slices.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${name}-${family}${index === 0 ? '' : `-${index}`}`,
          namespace,
          labels,
          ...(meta.uid && { ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: meta.uid, controller: true, blockOwnerDeletion: true }] }),
        },
        addressType: addressTypeOf(family),
        ports: group.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port })),
        endpoints: group.endpoints.sort((a, b) => (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? '')),
      });
      index++;
    }
  }
  return slices;
}

/** An empty slice lists the Service's ports that need no pod to resolve them. */
function resolvePortsWithoutPods(service: V1Service): ResolvedPort[] {
  return (service.spec?.ports ?? []).flatMap((sp) => {
    const target = sp.targetPort ?? sp.port;
    const port = typeof target === 'number' ? target : /^\d+$/.test(target) ? Number(target) : undefined;
    return port === undefined ? [] : [{ name: sp.name ?? '', protocol: sp.protocol ?? 'TCP', port }];
  });
}

export interface SlicePlan {
  create: V1EndpointSlice[];
  update: V1EndpointSlice[];
  /** Names of slices to delete. */
  remove: string[];
}

/** What slice contents matter for a comparison: labels, addressType, ports, endpoints. */
function sliceContent(slice: V1EndpointSlice): string {
  return JSON.stringify([slice.metadata?.labels ?? {}, slice.addressType, slice.ports ?? [], slice.endpoints]);
}

/** Set on every slice written, as the endpointslice controller does: when the change behind it happened. */
export const annotationLastChangeTriggerTime = 'endpoints.kubernetes.io/last-change-trigger-time';

/**
 * The writes that take the slices written before (by name) to the desired ones; unchanged
 * slices are not written. Written ones carry `changeTime` as their last-change-trigger-time
 * (what the proxy's network programming latency metric measures from).
 */
export function planSlices(previous: ReadonlyMap<string, V1EndpointSlice>, desired: readonly V1EndpointSlice[], changeTime = new Date()): SlicePlan {
  const plan: SlicePlan = { create: [], update: [], remove: [] };
  const wanted = new Set<string>();
  const stamp = changeTime.toISOString(); // RFC 3339 with fractional seconds, as the controller writes it (RFC3339Nano)
  for (const unstamped of desired) {
    const slice = { ...unstamped, metadata: { ...unstamped.metadata, annotations: { ...unstamped.metadata?.annotations, [annotationLastChangeTriggerTime]: stamp } } };
    const name = slice.metadata?.name ?? '';
    wanted.add(name);
    const before = previous.get(name);
    if (!before) plan.create.push(slice);
    else if (sliceContent(before) !== sliceContent(slice)) {
      plan.update.push({ ...slice, metadata: { ...slice.metadata, ...(before.metadata?.resourceVersion && { resourceVersion: before.metadata.resourceVersion }) } });
    }
  }
  for (const name of previous.keys()) if (!wanted.has(name)) plan.remove.push(name);
  return plan;
}
