// A node's local state as localv1 entries and ops, and back. Lossless: the ops of a state,
// applied to an empty view, rebuild a state equal to it (and likewise for the ops between
// two states).
import {
  compareIPs,
  deepEqual,
  localChanges,
  servicePortKey,
  sortedServicePorts,
  type IPFamily,
  type LocalChanges,
  type LocalEndpoint,
  type LocalNode,
  type LocalState,
  type Protocol,
  type ServicePortState,
} from '../model/index.ts';
import { ApiError } from './errors.ts';
import { localv1, type Endpoint, type Endpoint__Output, type Node, type Node__Output, type OpItem, type OpItem__Output, type Service, type Service__Output, type SetName } from './proto.ts';

// ---------------------------------------------------------------------------------
// Entries

/** The path of an endpoint entry: "<service port key>/<ip>/<port>". */
export function endpointPath(servicePortKey: string, address: string, port: number): string {
  return `${servicePortKey}/${address}/${port}`;
}

/** The service port key of an endpoint path, or undefined when the path has no such shape. */
export function servicePortOfEndpointPath(path: string): string | undefined {
  const j = path.lastIndexOf('/');
  const i = j > 0 ? path.lastIndexOf('/', j - 1) : -1;
  return i > 0 ? path.slice(0, i) : undefined;
}

/** The SERVICE_PORTS entry of a service port (endpoints travel as ENDPOINTS entries). */
export function serviceMessage(sp: ServicePortState): Service {
  return {
    namespace: sp.namespace,
    name: sp.name,
    ips: { clusterIps: sp.clusterIPs, externalIps: sp.externalIPs, loadBalancerIps: sp.loadBalancerIPs },
    ipFilters: { sourceRanges: sp.loadBalancerSourceRanges },
    ports: [{ name: sp.portName, protocol: sp.protocol, port: sp.port, nodePort: sp.nodePort }],
    externalTrafficToLocal: sp.externalPolicyLocal,
    internalTrafficToLocal: sp.internalPolicyLocal,
    sessionAffinity: sp.affinityTimeoutSeconds === undefined ? null : { clientIp: { timeoutSeconds: sp.affinityTimeoutSeconds } },
    healthCheckNodePort: sp.healthCheckNodePort,
    ...(sp.hasEndpoints.IPv4 !== undefined && { hasIpv4Endpoints: sp.hasEndpoints.IPv4 }),
    ...(sp.hasEndpoints.IPv6 !== undefined && { hasIpv6Endpoints: sp.hasEndpoints.IPv6 }),
  };
}

const wireFamily: Record<IPFamily, 'IPV4' | 'IPV6'> = { IPv4: 'IPV4', IPv6: 'IPV6' };

function endpointMessage(ep: LocalEndpoint): Endpoint {
  return {
    ip: ep.address,
    family: wireFamily[ep.family],
    port: ep.port,
    local: ep.local,
    conditions: { ready: ep.ready, serving: ep.serving, terminating: ep.terminating },
    ...(ep.nodeName !== undefined && { nodeName: ep.nodeName }),
    ...(ep.zone !== undefined && { zone: ep.zone }),
    ...(ep.hostname !== undefined && { hostname: ep.hostname }),
    ...(ep.targetRef !== undefined && { targetRef: ep.targetRef }),
    scopes: { internal: false, external: false, cluster: false },
  };
}

function sameEndpoint(a: LocalEndpoint, b: LocalEndpoint): boolean {
  return (
    a.address === b.address &&
    a.family === b.family &&
    a.port === b.port &&
    a.local === b.local &&
    a.ready === b.ready &&
    a.serving === b.serving &&
    a.terminating === b.terminating &&
    a.nodeName === b.nodeName &&
    a.zone === b.zone &&
    a.hostname === b.hostname &&
    a.targetRef === b.targetRef
  );
}

type Scope = 'internal' | 'external' | 'cluster';
const scopeLists: ReadonlyArray<readonly [Scope, 'internalEndpoints' | 'externalEndpoints' | 'clusterEndpoints']> = [
  ['internal', 'internalEndpoints'],
  ['external', 'externalEndpoints'],
  ['cluster', 'clusterEndpoints'],
];

/** The ENDPOINTS entries of a service port by path: each endpoint once, with the scopes it is in. */
export function endpointMessages(sp: ServicePortState): Map<string, Endpoint> {
  const out = new Map<string, Endpoint>();
  const seen = new Map<string, LocalEndpoint>();
  for (const [scope, list] of scopeLists) {
    for (const ep of sp[list]) {
      const path = endpointPath(sp.key, ep.address, ep.port);
      let msg = out.get(path);
      if (!msg) {
        msg = endpointMessage(ep);
        out.set(path, msg);
        seen.set(path, ep);
      } else if (!sameEndpoint(seen.get(path)!, ep)) {
        throw new Error(`${sp.key}: endpoint ${ep.address}:${ep.port} differs between endpoint lists`);
      }
      msg.scopes![scope] = true;
    }
  }
  return out;
}

export function nodeMessage(node: LocalNode): Node {
  return {
    name: node.name,
    ...(node.zone !== undefined && { zone: node.zone }),
    labels: { ...node.labels },
    addresses: node.addresses.map((a) => ({ type: a.type, address: a.address })),
    known: node.known,
    deleting: node.deleting,
    toBeDeleted: node.toBeDeleted,
  };
}

// ---------------------------------------------------------------------------------
// Ops

const resetOp: OpItem = { reset: {} };
const syncOp: OpItem = { sync: {} };

function setOp(set: SetName, path: string, bytes: Buffer): OpItem {
  return { set: { ref: { set, path }, bytes } };
}

function deleteOp(set: SetName, path: string): OpItem {
  return { delete: { set, path } };
}

function encodeService(msg: Service): Buffer {
  return localv1().Service.serialize(msg);
}
function encodeEndpoint(msg: Endpoint): Buffer {
  return localv1().Endpoint.serialize(msg);
}
function encodeNode(msg: Node): Buffer {
  return localv1().Node.serialize(msg);
}

/** A full snapshot: Reset, a Set for every entry, Sync. */
export function snapshotOps(state: LocalState): OpItem[] {
  const ops: OpItem[] = [resetOp, setOp('NODE', state.node.name, encodeNode(nodeMessage(state.node)))];
  for (const sp of sortedServicePorts(state)) {
    ops.push(setOp('SERVICE_PORTS', sp.key, encodeService(serviceMessage(sp))));
    for (const [path, msg] of endpointMessages(sp)) ops.push(setOp('ENDPOINTS', path, encodeEndpoint(msg)));
  }
  ops.push(syncOp);
  return ops;
}

/**
 * The change set that turns a view of `prev` into one of `next`: Set and Delete for the
 * entries that differ, then Sync; [] when the two views are the same.
 */
export function changeOps(prev: LocalState, next: LocalState, changes: LocalChanges = localChanges(prev, next)): OpItem[] {
  const ops: OpItem[] = [];
  if (changes.node || prev.node.name !== next.node.name) {
    if (prev.node.name !== next.node.name) ops.push(deleteOp('NODE', prev.node.name));
    ops.push(setOp('NODE', next.node.name, encodeNode(nodeMessage(next.node))));
  }
  for (const key of [...changes.servicePorts].sort()) {
    const old = prev.servicePorts.get(key);
    const cur = next.servicePorts.get(key);
    const oldEndpoints = old ? endpointMessages(old) : new Map<string, Endpoint>();
    if (!cur) {
      if (!old) continue;
      ops.push(deleteOp('SERVICE_PORTS', key));
      for (const path of oldEndpoints.keys()) ops.push(deleteOp('ENDPOINTS', path));
      continue;
    }
    const svc = serviceMessage(cur);
    if (!old || !deepEqual(serviceMessage(old), svc)) ops.push(setOp('SERVICE_PORTS', key, encodeService(svc)));
    const endpoints = endpointMessages(cur);
    for (const [path, msg] of endpoints) {
      const was = oldEndpoints.get(path);
      if (!was || !deepEqual(was, msg)) ops.push(setOp('ENDPOINTS', path, encodeEndpoint(msg)));
    }
    for (const path of oldEndpoints.keys()) if (!endpoints.has(path)) ops.push(deleteOp('ENDPOINTS', path));
  }
  if (ops.length > 0) ops.push(syncOp);
  return ops;
}

// ---------------------------------------------------------------------------------
// Back to a local state

const modelProtocol: Record<string, Protocol> = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP' };
const modelFamily: Record<string, IPFamily> = { IPV4: 'IPv4', IPV6: 'IPv6' };

function protocolError(message: string): ApiError {
  return new ApiError('KPNG_ERR_API_PROTOCOL', message);
}

function decode<T>(what: string, path: string, bytes: Buffer, deserialize: (b: Buffer) => T): T {
  try {
    return deserialize(bytes);
  } catch (e) {
    throw protocolError(`cannot decode the ${what} of ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
}

/** A service port's fields from its SERVICE_PORTS entry (endpoint lists left empty). */
function servicePortOf(path: string, msg: Service__Output): ServicePortState {
  const port = msg.ports[0];
  if (msg.ports.length !== 1 || !port) throw protocolError(`service port ${JSON.stringify(path)} has ${msg.ports.length} port mappings (accepted: exactly 1)`);
  const protocol = modelProtocol[String(port.protocol)];
  if (!protocol) throw protocolError(`service port ${JSON.stringify(path)} has protocol ${JSON.stringify(port.protocol)} (accepted: TCP, UDP, SCTP)`);
  const serviceKey = `${msg.namespace}/${msg.name}`;
  const key = servicePortKey(serviceKey, port.name);
  if (msg.namespace === '' || msg.name === '' || key !== path) {
    throw protocolError(`service port entry ${JSON.stringify(path)} describes ${JSON.stringify(key)} (accepted: the path is "namespace/name:port", or "namespace/name" for an unnamed port)`);
  }
  const hasEndpoints: Partial<Record<IPFamily, boolean>> = {};
  if (msg.hasIpv4Endpoints !== undefined) hasEndpoints.IPv4 = msg.hasIpv4Endpoints;
  if (msg.hasIpv6Endpoints !== undefined) hasEndpoints.IPv6 = msg.hasIpv6Endpoints;
  const affinity = msg.sessionAffinity?.clientIp;
  return {
    key,
    serviceKey,
    namespace: msg.namespace,
    name: msg.name,
    portName: port.name,
    protocol,
    port: port.port,
    nodePort: port.nodePort,
    clusterIPs: msg.ips?.clusterIps ?? [],
    externalIPs: msg.ips?.externalIps ?? [],
    loadBalancerIPs: msg.ips?.loadBalancerIps ?? [],
    loadBalancerSourceRanges: msg.ipFilters?.sourceRanges ?? [],
    ...(affinity && { affinityTimeoutSeconds: affinity.timeoutSeconds }),
    internalPolicyLocal: msg.internalTrafficToLocal,
    externalPolicyLocal: msg.externalTrafficToLocal,
    healthCheckNodePort: msg.healthCheckNodePort,
    internalEndpoints: [],
    externalEndpoints: [],
    clusterEndpoints: [],
    hasEndpoints,
  };
}

interface DecodedEndpoint {
  endpoint: LocalEndpoint;
  scopes: Record<Scope, boolean>;
}

function endpointOf(path: string, servicePort: string, msg: Endpoint__Output): DecodedEndpoint {
  const family = modelFamily[String(msg.family)];
  if (!family) throw protocolError(`endpoint ${JSON.stringify(path)} has family ${JSON.stringify(msg.family)} (accepted: IPV4, IPV6)`);
  if (msg.ip === '' || endpointPath(servicePort, msg.ip, msg.port) !== path) {
    throw protocolError(`endpoint entry ${JSON.stringify(path)} describes ${msg.ip}:${msg.port} (accepted: the path is "<service port>/<ip>/<port>")`);
  }
  const c = msg.conditions;
  const scopes = { internal: msg.scopes?.internal ?? false, external: msg.scopes?.external ?? false, cluster: msg.scopes?.cluster ?? false };
  if (!scopes.internal && !scopes.external && !scopes.cluster) throw protocolError(`endpoint ${JSON.stringify(path)} is in no scope (accepted: internal, external or cluster set)`);
  return {
    endpoint: {
      address: msg.ip,
      family,
      port: msg.port,
      local: msg.local,
      ready: c?.ready ?? false,
      serving: c?.serving ?? false,
      terminating: c?.terminating ?? false,
      ...(msg.nodeName !== undefined && { nodeName: msg.nodeName }),
      ...(msg.zone !== undefined && { zone: msg.zone }),
      ...(msg.hostname !== undefined && { hostname: msg.hostname }),
      ...(msg.targetRef !== undefined && { targetRef: msg.targetRef }),
    },
    scopes,
  };
}

function nodeOf(msg: Node__Output): LocalNode {
  return {
    name: msg.name,
    ...(msg.zone !== undefined && { zone: msg.zone }),
    labels: { ...msg.labels },
    addresses: msg.addresses.map((a) => ({ type: a.type, address: a.address })),
    known: msg.known,
    deleting: msg.deleting,
    toBeDeleted: msg.toBeDeleted,
  };
}

/** The order of every endpoint list in a local state: IPv4 first, then by address, then by port. */
function endpointOrder(a: DecodedEndpoint, b: DecodedEndpoint): number {
  return compareIPs(a.endpoint.address, b.endpoint.address) || a.endpoint.port - b.endpoint.port;
}

function assemble(base: ServicePortState, endpoints: ReadonlyMap<string, DecodedEndpoint> | undefined): ServicePortState {
  const sorted = [...(endpoints?.values() ?? [])].sort(endpointOrder);
  const pick = (scope: Scope) => sorted.filter((e) => e.scopes[scope]).map((e) => ({ ...e.endpoint }));
  return { ...base, internalEndpoints: pick('internal'), externalEndpoints: pick('external'), clusterEndpoints: pick('cluster') };
}

/**
 * A client's view: applies ops as they arrive and, at each Sync, yields the local state
 * they describe. Service ports no op touched are shared with the previous state.
 */
export class ViewAssembler {
  private node: LocalNode | undefined;
  private readonly services = new Map<string, ServicePortState>();
  private readonly endpoints = new Map<string, Map<string, DecodedEndpoint>>();
  /** Service port keys touched since the last Sync. */
  private readonly touched = new Set<string>();
  /** A Reset was seen on the current stream. */
  private resetSeen = false;
  /** Rebuild every service port at the next Sync (a Reset came). */
  private rebuild = false;
  private last: LocalState | undefined;

  /** The state at the last Sync. */
  get state(): LocalState | undefined {
    return this.last;
  }

  /** A new stream begins: it must start with Reset. The state at the last Sync stays, to compare the next one against. */
  newStream(): void {
    this.resetSeen = false;
  }

  /** Apply one op; at Sync, the new state. Throws ApiError (KPNG_ERR_API_PROTOCOL) on an op the protocol does not allow. */
  apply(op: OpItem__Output): LocalState | undefined {
    switch (op.op) {
      case 'reset':
        this.node = undefined;
        this.services.clear();
        this.endpoints.clear();
        this.touched.clear();
        this.resetSeen = true;
        this.rebuild = true;
        return undefined;
      case 'set':
        if (!op.set) break;
        if (!op.set.ref) throw protocolError('a Set without a ref (accepted: Value{ref{set, path}, bytes})');
        this.set(String(op.set.ref.set), op.set.ref.path, op.set.bytes);
        return undefined;
      case 'delete':
        if (!op.delete) break;
        this.delete(String(op.delete.set), op.delete.path);
        return undefined;
      case 'sync':
        return this.sync();
    }
    throw protocolError(`an op with no operation (accepted: delete, set, reset, sync)`);
  }

  private requireSnapshot(): void {
    if (!this.resetSeen) throw protocolError('an entry arrived before the first Reset (accepted: a stream starts with Reset)');
  }

  private set(set: string, path: string, bytes: Buffer): void {
    this.requireSnapshot();
    const api = localv1();
    if (set === 'SERVICE_PORTS') {
      this.services.set(path, servicePortOf(path, decode('Service', path, bytes, (b) => api.Service.deserialize(b))));
      this.touched.add(path);
    } else if (set === 'ENDPOINTS') {
      const sp = servicePortOfEndpointPath(path);
      if (sp === undefined) throw protocolError(`endpoint path ${JSON.stringify(path)} (accepted: "<service port>/<ip>/<port>")`);
      const ep = endpointOf(path, sp, decode('Endpoint', path, bytes, (b) => api.Endpoint.deserialize(b)));
      let eps = this.endpoints.get(sp);
      if (!eps) this.endpoints.set(sp, (eps = new Map()));
      eps.set(path, ep);
      this.touched.add(sp);
    } else if (set === 'NODE') {
      const node = nodeOf(decode('Node', path, bytes, (b) => api.Node.deserialize(b)));
      if (node.name !== path) throw protocolError(`node entry ${JSON.stringify(path)} describes node ${JSON.stringify(node.name)} (accepted: the path is the node name)`);
      this.node = node;
    } else {
      throw protocolError(`set ${JSON.stringify(set)} (accepted: SERVICE_PORTS, NODE, ENDPOINTS)`);
    }
  }

  private delete(set: string, path: string): void {
    this.requireSnapshot();
    if (set === 'SERVICE_PORTS') {
      this.services.delete(path);
      this.touched.add(path);
    } else if (set === 'ENDPOINTS') {
      const sp = servicePortOfEndpointPath(path);
      if (sp === undefined) throw protocolError(`endpoint path ${JSON.stringify(path)} (accepted: "<service port>/<ip>/<port>")`);
      const eps = this.endpoints.get(sp);
      eps?.delete(path);
      if (eps?.size === 0) this.endpoints.delete(sp);
      this.touched.add(sp);
    } else if (set === 'NODE') {
      if (this.node?.name === path) this.node = undefined;
    } else {
      throw protocolError(`set ${JSON.stringify(set)} (accepted: SERVICE_PORTS, NODE, ENDPOINTS)`);
    }
  }

  private sync(): LocalState {
    this.requireSnapshot();
    if (!this.node) throw protocolError('a change set ended without the node entry (accepted: the NODE set holds the node once synced)');
    const prev = this.last;
    // After a Reset every entry came anew: rebuild them all (reusing equal ones).
    const servicePorts = new Map<string, ServicePortState>(this.rebuild || !prev ? [] : prev.servicePorts);
    for (const key of this.rebuild ? this.services.keys() : this.touched.values()) {
      const base = this.services.get(key);
      if (!base) {
        servicePorts.delete(key);
        continue;
      }
      const sp = assemble(base, this.endpoints.get(key));
      const old = prev?.servicePorts.get(key);
      servicePorts.set(key, old && deepEqual(old, sp) ? old : sp);
    }
    for (const key of this.rebuild ? this.endpoints.keys() : this.touched.values()) {
      if (this.endpoints.has(key) && !this.services.has(key)) {
        throw protocolError(`endpoints of ${JSON.stringify(key)} are left without their service port (accepted: deleting a service port deletes each of its endpoints)`);
      }
    }
    const node = prev && deepEqual(prev.node, this.node) ? prev.node : this.node;
    this.touched.clear();
    this.rebuild = false;
    this.last = { node, servicePorts };
    return this.last;
  }
}
