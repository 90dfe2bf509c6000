// UDP conntrack cleanup after a successful sync (kube-proxy's pkg/proxy/conntrack/cleanup.go,
// as driven by its endpoint change tracker). UDP has no connection end, so a conntrack entry
// keeps steering a client's datagrams to where they went before; two cases go stale:
//
// (a) A UDP service port's serving endpoint set lost an endpoint: delete the flows whose
//     original destination is one of the port's ClusterIPs / ExternalIPs / LoadBalancer IPs
//     (at the service port), or its NodePort, and that were DNAT'ed to the lost endpoint.
//     A removed service port has lost all of its endpoints.
// (b) A UDP service port went from no serving endpoint (per family) to some: delete every
//     flow to those frontends, as they were rejected or blackholed while it had none.
//     The first sync after a start compares with nothing and deletes nothing: the rules
//     stayed in place while the proxy was down, so live flows are still right, and a
//     restart must not break them.
//
// The plan is a pure function of the previous and the new applied state (looking only at
// the service ports the sync's change set names, when it has one); the executor runs
// `conntrack -D` (conntrack-tools) in the proxy's own network namespace. TCP needs no
// cleanup (its flows end), SCTP ports are left alone.
import { processRunner, type Runner } from '../exec.ts';
import type { IPFamily, LocalEndpoint, LocalState, ServicePortState, ViewChanges } from '../model/index.ts';
import { ipFamilyOf } from '../model/index.ts';
import { RuntimeError } from './errors.ts';
import type { Logger } from './log.ts';

/** One `conntrack -D` filter: UDP flows of this family whose original destination port is origPortDst, and … */
export interface ConntrackFilter {
  family: IPFamily;
  protocol: 'udp';
  /** … whose original destination is this IP (absent: any, i.e. a NodePort) … */
  origDst?: string;
  origPortDst: number;
  /** … and that were DNAT'ed to this endpoint IP (absent: any). */
  dstNat?: string;
  /** The service port it is for, and why, for logs. */
  servicePort: string;
  reason: 'endpoint-removed' | 'first-endpoint';
}

/** The serving endpoints of a service port in any of its endpoint lists, by "address#port". */
function servingEndpoints(sp: ServicePortState | undefined): Map<string, LocalEndpoint> {
  const out = new Map<string, LocalEndpoint>();
  if (!sp) return out;
  for (const list of [sp.internalEndpoints, sp.externalEndpoints, sp.clusterEndpoints]) {
    for (const ep of list) if (ep.serving) out.set(`${ep.address}#${ep.port}`, ep);
  }
  return out;
}

/** The (IP, port) frontends of a service port, and its NodePort. */
function frontends(sp: ServicePortState): { ips: string[]; port: number; nodePort: number } {
  return { ips: [...sp.clusterIPs, ...sp.externalIPs, ...sp.loadBalancerIPs], port: sp.port, nodePort: sp.nodePort };
}

function filterKey(f: ConntrackFilter): string {
  return `${f.family}|${f.origDst ?? '*'}|${f.origPortDst}|${f.dstNat ?? '*'}`;
}

/**
 * What to delete after the dataplane went from `prev` to `next`. Sorted, without duplicates.
 * `changes` (what differs from prev to next) limits the ports looked at to those it names.
 */
export function planConntrackCleanup(prev: LocalState | undefined, next: LocalState, changes?: Pick<ViewChanges, 'servicePorts'>): ConntrackFilter[] {
  if (!prev) return [];
  const out = new Map<string, ConntrackFilter>();
  const add = (f: ConntrackFilter) => {
    const key = filterKey(f);
    if (!out.has(key)) out.set(key, f);
  };
  const keys = changes?.servicePorts ?? new Set<string>([...prev.servicePorts.keys(), ...next.servicePorts.keys()]);
  for (const key of keys) {
    const before = prev.servicePorts.get(key);
    const after = next.servicePorts.get(key);
    if (before === after) continue; // shared: unchanged
    const wasUDP = before?.protocol === 'UDP';
    const isUDP = after?.protocol === 'UDP';
    if (!wasUDP && !isUDP) continue;
    const old = wasUDP ? servingEndpoints(before) : new Map<string, LocalEndpoint>();
    const now = isUDP ? servingEndpoints(after) : new Map<string, LocalEndpoint>();

    // (a) endpoints that went away: flows DNAT'ed to them, at the old and the new frontends.
    const fronts = [before, after].filter((sp): sp is ServicePortState => sp?.protocol === 'UDP').map(frontends);
    for (const [id, ep] of old) {
      if (now.has(id)) continue;
      for (const fe of fronts) {
        for (const ip of fe.ips) {
          if (ipFamilyOf(ip) !== ep.family) continue;
          add({ family: ep.family, protocol: 'udp', origDst: ip, origPortDst: fe.port, dstNat: ep.address, servicePort: key, reason: 'endpoint-removed' });
        }
        if (fe.nodePort !== 0) add({ family: ep.family, protocol: 'udp', origPortDst: fe.nodePort, dstNat: ep.address, servicePort: key, reason: 'endpoint-removed' });
      }
    }

    // (b) families that had no serving endpoint and have some now: every flow to the frontends.
    if (!isUDP || !after) continue;
    const fe = frontends(after);
    for (const family of ['IPv4', 'IPv6'] as const) {
      const hadNone = ![...old.values()].some((ep) => ep.family === family);
      const hasSome = [...now.values()].some((ep) => ep.family === family);
      if (!hadNone || !hasSome) continue;
      for (const ip of fe.ips) {
        if (ipFamilyOf(ip) === family) add({ family, protocol: 'udp', origDst: ip, origPortDst: fe.port, servicePort: key, reason: 'first-endpoint' });
      }
      if (fe.nodePort !== 0) add({ family, protocol: 'udp', origPortDst: fe.nodePort, servicePort: key, reason: 'first-endpoint' });
    }
  }
  return [...out.values()].sort((a, b) => (filterKey(a) < filterKey(b) ? -1 : filterKey(a) > filterKey(b) ? 1 : 0));
}

/** The `conntrack` arguments that delete what a filter names. */
export function conntrackArgs(f: ConntrackFilter): string[] {
  return [
    '-D',
    ...(f.family === 'IPv6' ? ['-f', 'ipv6'] : []),
    '-p',
    f.protocol,
    ...(f.origDst !== undefined ? ['--orig-dst', f.origDst] : []),
    '--orig-port-dst',
    String(f.origPortDst),
    ...(f.dstNat !== undefined ? ['--dst-nat', f.dstNat] : []),
  ];
}

export interface ConntrackResult {
  /** Flow entries deleted, as conntrack reported them. */
  deleted: number;
  /** The filters conntrack failed on, with its error. */
  errors: RuntimeError[];
}

/** conntrack exits 1 with "0 flow entries have been deleted" when nothing matched: not an error. */
function deletedCount(stderr: string): number | undefined {
  const m = /(\d+) flow entries have been deleted/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/** Run the plan's deletions, a few at a time. Never throws: failures come back in `errors`. */
export async function executeConntrackPlan(plan: readonly ConntrackFilter[], opts: { run?: Runner; concurrency?: number } = {}): Promise<ConntrackResult> {
  const run = opts.run ?? processRunner();
  const result: ConntrackResult = { deleted: 0, errors: [] };
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const args = conntrackArgs(plan[next++]!);
      const r = await run('conntrack', args);
      const count = deletedCount(r.stderr);
      if ((r.exitCode === 0 || r.exitCode === 1) && count !== undefined) {
        result.deleted += count;
        continue;
      }
      const why = r.error ?? (r.stderr.trim() || `exit code ${r.exitCode}`);
      result.errors.push(new RuntimeError('KPNG_ERR_CONNTRACK', `conntrack ${args.join(' ')} failed: ${why}`));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, plan.length)) }, worker));
  return result;
}

/** An afterSync step: plan, run, log. A missing conntrack binary is reported once. */
export function conntrackCleaner(opts: { logger: Logger; run?: Runner }): (prev: LocalState | undefined, next: LocalState, changes?: ViewChanges) => Promise<void> {
  let missingReported = false;
  return async (prev, next, changes) => {
    const plan = planConntrackCleanup(prev, next, changes);
    if (plan.length === 0) return;
    const { deleted, errors } = await executeConntrackPlan(plan, opts.run ? { run: opts.run } : {});
    opts.logger.debug('conntrack cleanup', { filters: plan.length, deleted, failed: errors.length });
    for (const err of errors) {
      if (/ENOENT/.test(err.message)) {
        if (!missingReported) opts.logger.error('conntrack (conntrack-tools) is not installed: stale UDP flows are not cleaned up', { err });
        missingReported = true;
        continue;
      }
      opts.logger.warn('stale UDP flows not deleted', { err });
    }
  };
}
