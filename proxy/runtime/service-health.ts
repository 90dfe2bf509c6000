// healthCheckNodePort servers (kube-proxy's pkg/proxy/healthcheck/service_health.go): for
// every Service with externalTrafficPolicy Local and a healthCheckNodePort, an HTTP server
// on that port telling load balancers how many ready endpoints the Service has on this
// node. 200 when there is at least one and the proxy is healthy, else 503; any path.
import type { Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { canonicalCIDR, inCIDR, ipFamilyOf, parseCIDR, type IPFamily, type LocalNode, type LocalState } from '../model/index.ts';
import { RuntimeError, messageOf } from './errors.ts';
import { close, formatHostPort, http, listen } from './http.ts';
import type { Logger } from './log.ts';

export interface ServiceHealthTarget {
  serviceKey: string;
  namespace: string;
  name: string;
  port: number;
  /** Distinct ready endpoint addresses on this node (the larger count of the two families). */
  localEndpoints: number;
}

/**
 * The Services that need a health check server, by Service key. Endpoints are counted as
 * kube-proxy does: ready local endpoints (terminating ones fail the check), distinct by
 * address across the Service's ports.
 */
export function serviceHealthTargets(state: LocalState): Map<string, ServiceHealthTarget> {
  const out = new Map<string, ServiceHealthTarget>();
  const addresses = new Map<string, Record<IPFamily, Set<string>>>();
  for (const sp of state.servicePorts.values()) {
    if (sp.healthCheckNodePort === 0) continue;
    if (!out.has(sp.serviceKey)) {
      out.set(sp.serviceKey, { serviceKey: sp.serviceKey, namespace: sp.namespace, name: sp.name, port: sp.healthCheckNodePort, localEndpoints: 0 });
      addresses.set(sp.serviceKey, { IPv4: new Set(), IPv6: new Set() });
    }
    const seen = addresses.get(sp.serviceKey)!;
    for (const ep of sp.externalEndpoints) if (ep.local && ep.ready) seen[ep.family].add(ep.address);
  }
  for (const [key, t] of out) {
    const seen = addresses.get(key)!;
    t.localEndpoints = Math.max(seen.IPv4.size, seen.IPv6.size);
  }
  return out;
}

/** --nodeport-addresses, parsed: CIDRs and/or "primary"; empty means every local address. */
export interface NodePortAddresses {
  /** No restriction (the flag is empty, or holds 0.0.0.0/0 or ::/0). */
  all: boolean;
  cidrs: string[];
  /** The node's primary IPs (its first InternalIP of each family). */
  primary: boolean;
}

export function parseNodePortAddresses(list: readonly string[]): NodePortAddresses {
  const cidrs: string[] = [];
  let primary = false;
  let all = list.length === 0;
  for (const raw of list) {
    const item = raw.trim();
    if (item === 'primary') {
      primary = true;
      continue;
    }
    const cidr = canonicalCIDR(item);
    if (cidr === undefined) {
      throw new RuntimeError('KPNG_ERR_BAD_NODEPORT_ADDRESSES', `--nodeport-addresses=${JSON.stringify(raw)}: accepted: CIDRs (e.g. 10.0.0.0/8,fd00::/64) and/or "primary"`);
    }
    if (parseCIDR(cidr)?.prefix === 0) all = true;
    cidrs.push(cidr);
  }
  return { all, cidrs, primary };
}

/** Every address of this host's interfaces. */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((a) => a.address.split('%')[0]!);
}

/** The addresses NodePort-style servers listen on: undefined for every address. */
export function nodePortBindAddresses(spec: NodePortAddresses, node: LocalNode, addresses: () => string[] = hostAddresses): string[] | undefined {
  if (spec.all) return undefined;
  const out = new Set<string>();
  for (const ip of addresses()) if (spec.cidrs.some((c) => inCIDR(c, ip))) out.add(ip);
  if (spec.primary) {
    const seen = new Set<IPFamily>();
    for (const a of node.addresses) {
      const family = ipFamilyOf(a.address);
      if (a.type !== 'InternalIP' || !family || seen.has(family)) continue;
      seen.add(family);
      out.add(a.address);
    }
  }
  return [...out];
}

export interface ServiceHealthOptions {
  logger: Logger;
  /** Whether the proxy itself is healthy (ProxyHealth.isHealthy: node eligibility aside). */
  health: { isHealthy(): boolean };
  /** --nodeport-addresses, parsed. Default: every address. */
  nodePortAddresses?: NodePortAddresses;
  /** The host's addresses, matched against the CIDRs. */
  hostAddresses?: () => string[];
}

interface Instance {
  target: ServiceHealthTarget;
  servers: Array<{ server: Server; address: string }>;
}

export class ServiceHealthServers {
  readonly #opts: ServiceHealthOptions;
  readonly #instances = new Map<string, Instance>();

  constructor(opts: ServiceHealthOptions) {
    this.#opts = opts;
  }

  /** Start servers for new Services, stop those of Services gone (or moved port), update endpoint counts. */
  async update(state: LocalState): Promise<void> {
    const targets = serviceHealthTargets(state);
    const closing: Promise<void>[] = [];
    for (const [key, inst] of this.#instances) {
      const t = targets.get(key);
      if (t && t.port === inst.target.port) continue;
      this.#instances.delete(key);
      closing.push(...inst.servers.map((s) => close(s.server)));
      this.#opts.logger.info('stopped health check server', { service: key, port: inst.target.port });
    }
    await Promise.all(closing);
    const starting: Promise<void>[] = [];
    for (const [key, t] of targets) {
      const inst = this.#instances.get(key);
      if (inst) {
        inst.target = t;
        continue;
      }
      starting.push(this.#start(t, state.node));
    }
    await Promise.all(starting);
  }

  /** Where servers listen, for diagnostics and tests. */
  listening(): Array<{ service: string; port: number; address: string }> {
    return [...this.#instances.values()].flatMap((inst) => inst.servers.map((s) => ({ service: inst.target.serviceKey, port: inst.target.port, address: s.address })));
  }

  async close(): Promise<void> {
    const all = [...this.#instances.values()].flatMap((inst) => inst.servers.map((s) => close(s.server)));
    this.#instances.clear();
    await Promise.all(all);
  }

  async #start(target: ServiceHealthTarget, node: LocalNode): Promise<void> {
    const inst: Instance = { target, servers: [] };
    this.#instances.set(target.serviceKey, inst);
    const spec = this.#opts.nodePortAddresses ?? { all: true, cidrs: [], primary: false };
    const hosts: Array<string | undefined> = nodePortBindAddresses(spec, node, this.#opts.hostAddresses) ?? [undefined];
    await Promise.all(
      hosts.map(async (host) => {
        const server = http.createServer((_req, res) => this.#answer(inst, res));
        try {
          const addr = await listen(server, `health check (${target.serviceKey})`, host, target.port);
          // The Service may have gone while we were binding.
          if (this.#instances.get(target.serviceKey) !== inst) {
            await close(server);
            return;
          }
          inst.servers.push({ server, address: formatHostPort(addr.address, addr.port) });
          this.#opts.logger.info('serving health check', { service: target.serviceKey, address: formatHostPort(addr.address, addr.port) });
        } catch (err) {
          // A port someone else holds is the Service's problem, not the proxy's: kube-proxy records an event and goes on.
          this.#opts.logger.error('cannot serve health check', { service: target.serviceKey, port: target.port, err: messageOf(err) });
        }
      }),
    );
  }

  #answer(inst: Instance, res: import('node:http').ServerResponse): void {
    const { namespace, name, localEndpoints } = inst.target;
    const healthy = this.#opts.health.isHealthy();
    res.writeHead(localEndpoints > 0 && healthy ? 200 : 503, {
      'Content-Type': 'application/json',
      'X-Content-Type-Options': 'nosniff',
      'X-Load-Balancing-Endpoint-Weight': String(localEndpoints),
    });
    res.end(JSON.stringify({ service: { namespace, name }, localEndpoints, serviceProxyHealthy: healthy }, null, '\t'));
  }
}
