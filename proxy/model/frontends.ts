// The frontends Services claim (an IP, port and protocol, or a NodePort and protocol) and
// who wins when two Services claim the same one. The API server keeps cluster IPs and
// NodePorts unique, but not external IPs or load-balancer IPs, and a snapshot can say
// anything; two owners of one frontend would make the dataplane pick one by chance (or,
// in nftables, refuse the whole transaction). So exactly one Service owns each frontend:
// the oldest by metadata.creationTimestamp, then the first by "namespace/name" (a Service
// without a creation time comes after those with one). The others leave it out, with a
// warning naming both. Pure.
import type { ServiceInfo } from './types.ts';

export type FrontendKind = 'cluster IP' | 'external IP' | 'load-balancer IP' | 'NodePort';

export interface Frontend {
  /** "10.96.0.10:80/TCP", "[fd00::1]:80/TCP" or "nodePort 30080/TCP": equal ids are the same frontend. */
  id: string;
  kind: FrontendKind;
  /** The service port it belongs to (its name; "" when unnamed). */
  portName: string;
  /** Where in the Service it comes from, e.g. "spec.ports[0]" or "spec.externalIPs[1]". */
  field: string;
}

/** The id of an IP frontend: "10.96.0.10:80/TCP", "[fd00::1]:80/TCP". */
export function ipPort(ip: string, port: number, protocol: string): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}/${protocol}`;
}

/** The id of a NodePort frontend: "nodePort 30080/TCP". */
export function nodePortId(nodePort: number, protocol: string): string {
  return `nodePort ${nodePort}/${protocol}`;
}

/** Every frontend of a Service, once each. */
export function serviceFrontends(svc: ServiceInfo): Frontend[] {
  const out = new Map<string, Frontend>();
  const add = (f: Frontend) => {
    if (!out.has(f.id)) out.set(f.id, f);
  };
  svc.ports.forEach((p, i) => {
    for (const ip of svc.clusterIPs) add({ id: ipPort(ip, p.port, p.protocol), kind: 'cluster IP', portName: p.name, field: `spec.ports[${i}]` });
    svc.externalIPs.forEach((ip, j) => add({ id: ipPort(ip, p.port, p.protocol), kind: 'external IP', portName: p.name, field: `spec.externalIPs[${j}]` }));
    svc.loadBalancerIPs.forEach((ip) => add({ id: ipPort(ip, p.port, p.protocol), kind: 'load-balancer IP', portName: p.name, field: 'status.loadBalancer.ingress' }));
    if (p.nodePort !== 0) add({ id: nodePortId(p.nodePort, p.protocol), kind: 'NodePort', portName: p.name, field: `spec.ports[${i}].nodePort` });
  });
  return [...out.values()];
}

/** The order of precedence: older first, then by key. */
export interface Seniority {
  /** metadata.creationTimestamp in ms since the epoch; undefined when absent or unparseable. */
  createdAt: number | undefined;
  key: string;
}

export function compareSeniority(a: Seniority, b: Seniority): number {
  const ta = a.createdAt ?? Infinity;
  const tb = b.createdAt ?? Infinity;
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** metadata.creationTimestamp of a raw object (a string, or a Date from the client library). */
export function creationTime(raw: unknown): number | undefined {
  const t = (raw as { metadata?: { creationTimestamp?: unknown } } | null)?.metadata?.creationTimestamp;
  if (t === undefined || t === null) return undefined;
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Which Services claim which frontends, and who owns each. */
export class FrontendClaims {
  /** frontend id → claimants, in precedence order (the owner first). */
  readonly #claimants = new Map<string, Array<Seniority & { frontend: Frontend }>>();
  /** serviceKey → the frontend ids it claims. */
  readonly #byService = new Map<string, string[]>();

  /** Replace the claims of one Service (none: it claims nothing). Returns the ids whose claimants changed. */
  set(seniority: Seniority, frontends: readonly Frontend[]): string[] {
    const touched = this.delete(seniority.key);
    for (const frontend of frontends) {
      let list = this.#claimants.get(frontend.id);
      if (!list) this.#claimants.set(frontend.id, (list = []));
      list.push({ ...seniority, frontend });
      list.sort(compareSeniority);
      touched.push(frontend.id);
    }
    if (frontends.length > 0) this.#byService.set(seniority.key, frontends.map((f) => f.id));
    return touched;
  }

  /** Drop every claim of one Service. Returns the ids it claimed. */
  delete(serviceKey: string): string[] {
    const ids = this.#byService.get(serviceKey) ?? [];
    this.#byService.delete(serviceKey);
    for (const id of ids) {
      const list = this.#claimants.get(id)?.filter((c) => c.key !== serviceKey);
      if (!list || list.length === 0) this.#claimants.delete(id);
      else this.#claimants.set(id, list);
    }
    return [...ids];
  }

  /** The claimants of a frontend, the owner first. */
  claimants(id: string): ReadonlyArray<Seniority & { frontend: Frontend }> {
    return this.#claimants.get(id) ?? [];
  }

  /** Whether this Service claims this frontend but another Service owns it. */
  lost(serviceKey: string, id: string): boolean {
    const list = this.#claimants.get(id);
    return list !== undefined && list.length > 1 && list[0]!.key !== serviceKey;
  }

  /** Whether this Service loses any frontend (a cheap test before looking at each). */
  losesAny(serviceKey: string): boolean {
    return (this.#byService.get(serviceKey) ?? []).some((id) => this.lost(serviceKey, id));
  }
}
