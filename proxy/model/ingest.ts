// Turning Kubernetes objects into the model's normalized records. A malformed object is
// rejected with one warning naming the object and the field; it never throws.
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { canonicalCIDR, canonicalIP, familyOfIP, ipFamilyOf } from './ip.ts';
import {
  annotationLastChangeTriggerTime,
  annotationSourceRanges,
  defaultAffinityTimeoutSeconds,
  labelHeadless,
  labelServiceName,
  labelServiceProxyName,
  labelZone,
  protocols,
  taintToBeDeleted,
  type EndpointSpec,
  type NodeInfo,
  type ObjectWarning,
  type Protocol,
  type ServiceInfo,
  type ServicePortSpec,
  type ServiceType,
  type SliceInfo,
  type SlicePortSpec,
} from './types.ts';
import { dns1035Label, dns1123Label, dns1123Subdomain, ianaServiceName, labelValue, problem, qualifiedName, type Check } from './validate.ts';

export type Ingested<T> = { ok: true; value: T } | { ok: false; warning: ObjectWarning };

/** Thrown inside a converter to reject the object; caught at its edge. */
class Bad extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

function fail(field: string, message: string): never {
  throw new Bad(field, message);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function str(x: unknown, field: string): string {
  if (typeof x !== 'string' || x === '') fail(field, 'missing (a non-empty string is required)');
  return x;
}

function optStr(x: unknown, field: string): string | undefined {
  if (x === undefined || x === null) return undefined;
  if (typeof x !== 'string') fail(field, `must be a string, got ${JSON.stringify(x)}`);
  return x;
}

function arr(x: unknown, field: string): unknown[] {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x)) fail(field, 'must be a list');
  return x;
}

function labelsOf(x: unknown, field: string): Record<string, string> {
  if (x === undefined || x === null) return {};
  if (!isObject(x)) fail(field, 'must be a map of strings');
  for (const [k, v] of Object.entries(x)) if (typeof v !== 'string') fail(`${field}.${k}`, 'must be a string');
  return x as Record<string, string>;
}

/** Fails unless `text` passes `check`. */
function valid(check: Check, text: string, field: string): string {
  const why = problem(check, text);
  if (why !== undefined) fail(field, why);
  return text;
}

/**
 * The labels kept in the model. The API server refuses an object with a label key or value
 * out of Kubernetes' label syntax; so do we, for the labels the proxy reads (`read`: they
 * decide what is programmed). Any other malformed label is left out of the model, and the
 * object kept: it changes nothing the proxy does, and the proxy never passes it on.
 */
function checkedLabels(labels: Record<string, string>, read: readonly string[]): Record<string, string> {
  let kept: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(labels)) {
    if (read.includes(k)) {
      valid(labelValue, v, `metadata.labels[${k}]`);
      continue;
    }
    if (qualifiedName(k) === undefined && labelValue(v) === undefined) continue;
    kept ??= { ...labels };
    delete kept[k];
  }
  return kept ?? labels;
}

function port(x: unknown, field: string, { allowZero = false } = {}): number {
  if (x === undefined || x === null) {
    if (allowZero) return 0;
    fail(field, 'missing (a port number 1-65535 is required)');
  }
  if (typeof x !== 'number' || !Number.isInteger(x) || x < (allowZero ? 0 : 1) || x > 65535) {
    fail(field, `${JSON.stringify(x)} is not a port (accepted: 1-65535)`);
  }
  return x;
}

function protocol(x: unknown, field: string): Protocol {
  if (x === undefined || x === null) return 'TCP';
  if (!protocols.includes(x as Protocol)) {
    fail(field, `unknown protocol ${JSON.stringify(x)} (accepted: ${protocols.join(', ')})`);
  }
  return x as Protocol;
}

function ip(x: unknown, field: string): string {
  const text = str(x, field);
  const canonical = canonicalIP(text);
  if (!canonical) fail(field, `${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
  return canonical;
}

function cidr(x: unknown, field: string): string {
  const text = str(typeof x === 'string' ? x.trim() : x, field);
  const canonical = canonicalCIDR(text);
  if (!canonical) fail(field, `${JSON.stringify(text)} is not a CIDR (accepted: e.g. 10.0.0.0/8, 2001:db8::/32)`);
  return canonical;
}

interface MetaRules {
  /** The syntax of metadata.name for this kind. */
  name: Check;
  namespaced: boolean;
  /** Labels the proxy reads: checked, and the object refused when one is malformed. */
  readLabels: readonly string[];
}

function meta(obj: unknown, rules: MetaRules): { namespace: string; name: string; labels: Record<string, string>; annotations: Record<string, string> } {
  if (!isObject(obj)) fail('', 'not an object');
  const m = obj.metadata;
  if (!isObject(m)) fail('metadata', 'missing');
  const name = valid(rules.name, str(m.name, 'metadata.name'), 'metadata.name');
  const namespace = rules.namespaced ? valid(dns1123Label, optStr(m.namespace, 'metadata.namespace') || 'default', 'metadata.namespace') : '';
  return {
    namespace,
    name,
    labels: checkedLabels(labelsOf(m.labels, 'metadata.labels'), rules.readLabels),
    // Annotation values are free text in Kubernetes; the two the proxy reads are parsed where used.
    annotations: labelsOf(m.annotations, 'metadata.annotations'),
  };
}

function objectName(obj: unknown, namespaced: boolean): string {
  if (!isObject(obj) || !isObject(obj.metadata)) return '';
  const { name, namespace } = obj.metadata as { name?: unknown; namespace?: unknown };
  if (typeof name !== 'string') return '';
  if (!namespaced) return name;
  return `${typeof namespace === 'string' && namespace ? namespace : 'default'}/${name}`;
}

function convert<T>(kind: ObjectWarning['kind'], obj: unknown, namespaced: boolean, f: () => T): Ingested<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (!(e instanceof Bad)) throw e;
    return { ok: false, warning: { kind, object: objectName(obj, namespaced), field: e.field, message: e.message } };
  }
}

const serviceTypes: readonly ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];

export function ingestService(obj: V1Service | unknown): Ingested<ServiceInfo> {
  return convert('Service', obj, true, () => {
    const m = meta(obj, { name: dns1035Label, namespaced: true, readLabels: [labelServiceProxyName, labelHeadless] });
    const o = obj as Record<string, unknown>;
    const spec = o.spec;
    if (!isObject(spec)) fail('spec', 'missing');
    const typeText = spec.type ?? 'ClusterIP';
    if (!serviceTypes.includes(typeText as ServiceType)) {
      fail('spec.type', `unknown type ${JSON.stringify(typeText)} (accepted: ${serviceTypes.join(', ')})`);
    }
    const type = typeText as ServiceType;
    const base = { key: `${m.namespace}/${m.name}`, namespace: m.namespace, name: m.name, type, labels: m.labels };
    if (type === 'ExternalName') {
      // Never proxied: kept only so that the state knows it exists.
      return {
        ...base,
        clusterIPs: [],
        headless: false,
        externalIPs: [],
        loadBalancerIPs: [],
        loadBalancerSourceRanges: [],
        ports: [],
        externalTrafficPolicy: 'Cluster',
        internalTrafficPolicy: 'Cluster',
        healthCheckNodePort: 0,
      };
    }

    const rawIPs = arr(spec.clusterIPs, 'spec.clusterIPs');
    const ipTexts = rawIPs.length > 0 ? rawIPs : spec.clusterIP === undefined ? [] : [spec.clusterIP];
    const headless = ipTexts[0] === 'None';
    if (ipTexts.length === 0) fail('spec.clusterIP', 'missing (an IP, or None for a headless Service)');
    const field = rawIPs.length > 0 ? 'spec.clusterIPs' : 'spec.clusterIP';
    const clusterIPs = headless ? [] : ipTexts.map((x, i) => ip(x, rawIPs.length > 0 ? `${field}[${i}]` : field));
    if (new Set(clusterIPs.map(ipFamilyOf)).size !== clusterIPs.length) fail(field, 'at most one IP per family');

    const ports: ServicePortSpec[] = arr(spec.ports, 'spec.ports').map((p, i) => {
      const f = `spec.ports[${i}]`;
      if (!isObject(p)) fail(f, 'must be an object');
      const servicePort = port(p.port, `${f}.port`);
      const tp = p.targetPort;
      let targetPort: number | string;
      if (tp === undefined || tp === null) targetPort = servicePort;
      else if (typeof tp === 'number') targetPort = port(tp, `${f}.targetPort`);
      else if (typeof tp === 'string' && /^[0-9]+$/.test(tp)) targetPort = port(Number(tp), `${f}.targetPort`);
      else targetPort = valid(ianaServiceName, str(tp, `${f}.targetPort`), `${f}.targetPort`);
      return {
        name: portName(p.name, `${f}.name`),
        protocol: protocol(p.protocol, `${f}.protocol`),
        port: servicePort,
        nodePort: type === 'NodePort' || type === 'LoadBalancer' ? port(p.nodePort, `${f}.nodePort`, { allowZero: true }) : 0,
        targetPort,
      };
    });
    const names = new Set<string>();
    ports.forEach((p, i) => {
      const id = p.name;
      if (names.has(id)) fail(`spec.ports[${i}].name`, `duplicate port name ${JSON.stringify(id)}`);
      names.add(id);
    });

    const externalIPs = arr(spec.externalIPs, 'spec.externalIPs').map((x, i) => ip(x, `spec.externalIPs[${i}]`));
    const status = isObject(o.status) ? o.status : {};
    const lb = isObject(status.loadBalancer) ? status.loadBalancer : {};
    const loadBalancerIPs: string[] = [];
    if (type === 'LoadBalancer') {
      arr(lb.ingress, 'status.loadBalancer.ingress').forEach((ing, i) => {
        const f = `status.loadBalancer.ingress[${i}]`;
        if (!isObject(ing)) fail(f, 'must be an object');
        if (ing.ip === undefined || ing.ip === null || ing.ip === '') return; // hostname-only ingress
        const mode = ing.ipMode;
        if (mode !== undefined && mode !== null && mode !== 'VIP' && mode !== 'Proxy') {
          fail(`${f}.ipMode`, `unknown ipMode ${JSON.stringify(mode)} (accepted: VIP, Proxy)`);
        }
        const addr = ip(ing.ip, `${f}.ip`);
        if (mode !== 'Proxy') loadBalancerIPs.push(addr);
      });
    }
    const rangesFromSpec = arr(spec.loadBalancerSourceRanges, 'spec.loadBalancerSourceRanges');
    const annotation = m.annotations[annotationSourceRanges];
    const loadBalancerSourceRanges =
      rangesFromSpec.length > 0
        ? rangesFromSpec.map((x, i) => cidr(x, `spec.loadBalancerSourceRanges[${i}]`))
        : annotation
          ? annotation.split(',').filter((s) => s.trim() !== '').map((x) => cidr(x, `metadata.annotations[${annotationSourceRanges}]`))
          : [];

    let affinityTimeoutSeconds: number | undefined;
    const affinity = spec.sessionAffinity ?? 'None';
    if (affinity === 'ClientIP') {
      const cfg = isObject(spec.sessionAffinityConfig) && isObject(spec.sessionAffinityConfig.clientIP) ? spec.sessionAffinityConfig.clientIP : {};
      const t = cfg.timeoutSeconds ?? defaultAffinityTimeoutSeconds;
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 86400) {
        fail('spec.sessionAffinityConfig.clientIP.timeoutSeconds', `${JSON.stringify(t)} is out of range (accepted: 1-86400)`);
      }
      affinityTimeoutSeconds = t;
    } else if (affinity !== 'None') {
      fail('spec.sessionAffinity', `unknown value ${JSON.stringify(affinity)} (accepted: None, ClientIP)`);
    }

    const policy = (x: unknown, f: string): 'Cluster' | 'Local' => {
      if (x === undefined || x === null || x === 'Cluster') return 'Cluster';
      if (x === 'Local') return 'Local';
      fail(f, `unknown policy ${JSON.stringify(x)} (accepted: Cluster, Local)`);
    };
    const externalTrafficPolicy = policy(spec.externalTrafficPolicy, 'spec.externalTrafficPolicy');
    const internalTrafficPolicy = policy(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy');
    const healthCheckNodePort = externalTrafficPolicy === 'Local' ? port(spec.healthCheckNodePort, 'spec.healthCheckNodePort', { allowZero: true }) : 0;
    const trafficDistribution = optStr(spec.trafficDistribution, 'spec.trafficDistribution');

    return {
      ...base,
      clusterIPs,
      headless,
      externalIPs,
      loadBalancerIPs,
      loadBalancerSourceRanges,
      ports,
      ...(affinityTimeoutSeconds !== undefined && { affinityTimeoutSeconds }),
      externalTrafficPolicy,
      internalTrafficPolicy,
      healthCheckNodePort,
      ...(trafficDistribution !== undefined && { trafficDistribution }),
    };
  });
}

function condition(x: unknown, field: string, dflt: boolean): boolean {
  if (x === undefined || x === null) return dflt;
  if (typeof x !== 'boolean') fail(field, `must be true or false, got ${JSON.stringify(x)}`);
  return x;
}

function hintNames(x: unknown, field: string, check: Check): string[] {
  return arr(x, field).map((h, i) => {
    if (!isObject(h)) fail(`${field}[${i}]`, 'must be an object');
    return valid(check, str(h.name, `${field}[${i}].name`), `${field}[${i}].name`);
  });
}

/** A Service or EndpointSlice port name: "" (unnamed) or a DNS-1123 label. */
function portName(x: unknown, field: string): string {
  const name = optStr(x, field) ?? '';
  return name === '' ? name : valid(dns1123Label, name, field);
}

const kindRe = /^[A-Za-z][A-Za-z0-9]{0,62}$/;

/**
 * An endpoint's targetRef as "Kind/namespace/name", for humans. The API server does not
 * check it; the model keeps it only when it names an object Kubernetes could hold, and
 * otherwise leaves it out (it decides nothing) rather than refusing the slice.
 */
function targetRefOf(ref: Record<string, unknown> | undefined, namespace: string): string | undefined {
  if (!ref || typeof ref.name !== 'string') return undefined;
  const kind = ref.kind ?? 'Pod';
  const ns = ref.namespace || namespace;
  if (typeof kind !== 'string' || !kindRe.test(kind) || typeof ns !== 'string' || dns1123Label(ns) !== undefined || dns1123Subdomain(ref.name) !== undefined) return undefined;
  return `${kind}/${ns}/${ref.name}`;
}

export function ingestEndpointSlice(obj: V1EndpointSlice | unknown): Ingested<SliceInfo | undefined> {
  return convert('EndpointSlice', obj, true, () => {
    const m = meta(obj, { name: dns1123Subdomain, namespaced: true, readLabels: [labelServiceName] });
    const o = obj as Record<string, unknown>;
    const serviceName = m.labels[labelServiceName];
    // Slices not managed for a Service (no label) are none of the proxy's business.
    if (!serviceName) return undefined;
    valid(dns1035Label, serviceName, `metadata.labels[${labelServiceName}]`);
    const addressType = o.addressType;
    if (addressType === 'FQDN') return undefined;
    if (addressType !== 'IPv4' && addressType !== 'IPv6') {
      fail('addressType', `${JSON.stringify(addressType)} is not an address type (accepted: IPv4, IPv6, FQDN)`);
    }
    const ports: SlicePortSpec[] = arr(o.ports, 'ports').map((p, i) => {
      if (!isObject(p)) fail(`ports[${i}]`, 'must be an object');
      return {
        name: portName(p.name, `ports[${i}].name`),
        protocol: protocol(p.protocol, `ports[${i}].protocol`),
        port: port(p.port, `ports[${i}].port`),
      };
    });
    const endpoints: EndpointSpec[] = arr(o.endpoints, 'endpoints').map((e, i) => {
      const f = `endpoints[${i}]`;
      if (!isObject(e)) fail(f, 'must be an object');
      const addresses = arr(e.addresses, `${f}.addresses`);
      if (addresses.length === 0) fail(`${f}.addresses`, 'missing (at least one address is required)');
      const address = ip(addresses[0], `${f}.addresses[0]`);
      if (familyOfIP(address) !== addressType) fail(`${f}.addresses[0]`, `${address} is not an ${addressType} address (the slice's addressType)`);
      const c = isObject(e.conditions) ? e.conditions : {};
      const ready = condition(c.ready, `${f}.conditions.ready`, true);
      const hints = isObject(e.hints) ? e.hints : {};
      const ref = isObject(e.targetRef) ? e.targetRef : undefined;
      const nodeName = optStr(e.nodeName, `${f}.nodeName`);
      if (nodeName) valid(dns1123Subdomain, nodeName, `${f}.nodeName`);
      // The API server does not check zone; the endpointslice controller copies the node's
      // zone label there. Kept only when it is a label value: it decides nothing (hints do).
      const rawZone = optStr(e.zone, `${f}.zone`);
      const zone = rawZone && labelValue(rawZone) === undefined ? rawZone : undefined;
      const hostname = optStr(e.hostname, `${f}.hostname`);
      if (hostname) valid(dns1123Label, hostname, `${f}.hostname`);
      const targetRef = targetRefOf(ref, m.namespace);
      return {
        address,
        ready,
        serving: condition(c.serving, `${f}.conditions.serving`, ready),
        terminating: condition(c.terminating, `${f}.conditions.terminating`, false),
        ...(nodeName && { nodeName }),
        ...(zone && { zone }),
        ...(hostname && { hostname }),
        ...(targetRef && { targetRef }),
        zoneHints: hintNames(hints.forZones, `${f}.hints.forZones`, labelValue),
        nodeHints: hintNames(hints.forNodes, `${f}.hints.forNodes`, dns1123Subdomain),
      };
    });
    // Only for a metric: a missing or unparseable time is no reason to skip the slice.
    const triggerTime = Date.parse(m.annotations[annotationLastChangeTriggerTime] ?? '');
    return {
      key: `${m.namespace}/${m.name}`,
      namespace: m.namespace,
      name: m.name,
      serviceKey: `${m.namespace}/${serviceName}`,
      addressType,
      ports,
      endpoints,
      ...(Number.isFinite(triggerTime) && { changeTriggerTime: triggerTime }),
    };
  });
}

export function ingestNode(obj: V1Node | unknown): Ingested<NodeInfo> {
  return convert('Node', obj, false, () => {
    const m = meta(obj, { name: dns1123Subdomain, namespaced: false, readLabels: [labelZone] });
    const o = obj as Record<string, unknown>;
    const spec = isObject(o.spec) ? o.spec : {};
    const status = isObject(o.status) ? o.status : {};
    const addresses = arr(status.addresses, 'status.addresses').map((a, i) => {
      if (!isObject(a)) fail(`status.addresses[${i}]`, 'must be an object');
      const type = str(a.type, `status.addresses[${i}].type`);
      const text = str(a.address, `status.addresses[${i}].address`);
      // Hostnames are addresses too; only IPs are canonicalized.
      return { type, address: canonicalIP(text) ?? text };
    });
    const taints = arr(spec.taints, 'spec.taints');
    const zone = m.labels[labelZone];
    const metadata = (o.metadata ?? {}) as Record<string, unknown>;
    return {
      name: m.name,
      labels: m.labels,
      ...(zone && { zone }),
      addresses,
      deleting: metadata.deletionTimestamp !== undefined && metadata.deletionTimestamp !== null,
      toBeDeleted: taints.some((t) => isObject(t) && t.key === taintToBeDeleted),
    };
  });
}
