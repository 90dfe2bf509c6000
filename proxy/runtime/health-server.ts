// The proxy's own health, as kube-proxy reports it (pkg/proxy/healthcheck/proxy_health.go):
// a tracker the sync runner feeds ("an update was queued", "rules were updated") and an
// HTTP server answering /healthz and /livez on --healthz-bind-address.
//
// Healthy: for every IP family that has been updated at least once, no queued update has
// waited longer than the health timeout (2 × --sync-period). Before the first successful
// sync the proxy counts as healthy (starting up), as kube-proxy's does. Beyond kube-proxy:
// rules known to be wrong (someone else flushed or changed them) count as unhealthy until
// a full sync has repaired them. /healthz is also 503 when the node is being deleted or is
// tainted ToBeDeletedByClusterAutoscaler; /livez ignores the node.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IPFamily, LocalNode } from '../model/index.ts';
import { systemClock, type Clock } from './clock.ts';
import { close, http, listen, type BindAddress } from './http.ts';
import type { Logger } from './log.ts';

export interface FamilyHealth {
  lastUpdated: string;
  healthy: boolean;
}

/** The JSON body of /healthz and /livez, field for field kube-proxy's. */
export interface HealthReport {
  lastUpdated: string;
  currentTime: string;
  /** Only on /healthz. */
  nodeEligible?: boolean;
  healthy: boolean;
  /** Families that have been updated at least once; absent before the first update. */
  status?: Partial<Record<IPFamily, FamilyHealth>>;
}

const zeroTime = '0001-01-01T00:00:00Z';

/** RFC 3339 as Go's time.Time marshals it: fractional seconds without trailing zeros. */
export function rfc3339(ms: number | undefined): string {
  if (ms === undefined) return zeroTime;
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const fraction = iso.slice(20, 23).replace(/0+$/, '');
  return fraction === '' ? `${iso.slice(0, 19)}Z` : `${iso.slice(0, 19)}.${fraction}Z`;
}

export interface ProxyHealthOptions {
  /** 2 × --sync-period in kube-proxy. */
  healthTimeoutMs: number;
  /** The families the proxy programs (one status entry each). */
  families: readonly IPFamily[];
  clock?: Clock;
}

export class ProxyHealth {
  readonly #timeout: number;
  readonly #families: readonly IPFamily[];
  readonly #clock: Clock;
  readonly #lastUpdated = new Map<IPFamily, number>();
  readonly #oldestPending = new Map<IPFamily, number>();
  #nodeEligible = true;
  #rulesKnownWrong = false;

  constructor(opts: ProxyHealthOptions) {
    this.#timeout = opts.healthTimeoutMs;
    this.#families = opts.families;
    this.#clock = opts.clock ?? systemClock;
  }

  /** A change arrived that the dataplane does not reflect yet. Only the oldest pending one counts. */
  queuedUpdate(): void {
    const now = this.#clock.now();
    for (const f of this.#families) if (!this.#oldestPending.has(f)) this.#oldestPending.set(f, now);
  }

  /**
   * The dataplane now reflects everything up to the state just synced. `stillPendingSince`:
   * when the oldest change that arrived during that sync (and is not in it) was queued.
   */
  updated(stillPendingSince?: number): void {
    const now = this.#clock.now();
    for (const f of this.#families) {
      this.#lastUpdated.set(f, now);
      if (stillPendingSince === undefined) this.#oldestPending.delete(f);
      else this.#oldestPending.set(f, stillPendingSince);
    }
  }

  /** The dataplane's rules are known to differ from what was programmed (tampered with). */
  rulesKnownWrong(): void {
    this.#rulesKnownWrong = true;
  }

  /** A full sync has rewritten the rules since they were known to be wrong. */
  rulesRepaired(): void {
    this.#rulesKnownWrong = false;
  }

  /** Eligible unless the node is being deleted or is tainted ToBeDeletedByClusterAutoscaler. */
  syncNode(node: Pick<LocalNode, 'deleting' | 'toBeDeleted'>): void {
    this.#nodeEligible = !node.deleting && !node.toBeDeleted;
  }

  nodeEligible(): boolean {
    return this.#nodeEligible;
  }

  /** The proxy's health ignoring the node (what healthCheckNodePort servers report as serviceProxyHealthy). */
  isHealthy(): boolean {
    return this.report().healthy;
  }

  /** kube-proxy's Health(): per-family status and the overall verdict. */
  report(): HealthReport {
    const now = this.#clock.now();
    let lastUpdated: number | undefined;
    let healthy = true;
    const status: Partial<Record<IPFamily, FamilyHealth>> = {};
    for (const [family, updated] of this.#lastUpdated) {
      if (lastUpdated === undefined || updated > lastUpdated) lastUpdated = updated;
      const pending = this.#oldestPending.get(family);
      const familyHealthy = !this.#rulesKnownWrong && (pending === undefined || now - pending < this.#timeout);
      if (!familyHealthy) healthy = false;
      status[family] = { lastUpdated: rfc3339(updated), healthy: familyHealthy };
    }
    return {
      lastUpdated: rfc3339(lastUpdated),
      currentTime: rfc3339(now),
      healthy,
      ...(Object.keys(status).length > 0 && { status }),
    };
  }

  /** The /healthz (withNode) or /livez answer: status code and body. */
  respond(withNode: boolean): { code: 200 | 503; body: HealthReport } {
    const report = this.report();
    const eligible = this.#nodeEligible;
    const healthy = report.healthy && (!withNode || eligible);
    const body: HealthReport = {
      // kube-proxy reports "now" as lastUpdated while healthy, for compatibility with
      // releases where it was the time of the last sync loop run.
      lastUpdated: healthy ? report.currentTime : report.lastUpdated,
      currentTime: report.currentTime,
      ...(withNode && { nodeEligible: eligible }),
      healthy: report.healthy,
      ...(report.status && { status: report.status }),
    };
    return { code: healthy ? 200 : 503, body };
  }
}

export interface HealthServerOptions {
  health: ProxyHealth;
  bind: BindAddress;
  logger: Logger;
  /** Told of each answer, for kubeproxy_proxy_healthz_total / kubeproxy_proxy_livez_total. */
  onAnswer?: (path: '/healthz' | '/livez', code: number) => void;
}

export interface RunningServer {
  address: AddressInfo;
  close(): Promise<void>;
}

export function healthHandler(health: ProxyHealth, onAnswer?: HealthServerOptions['onAnswer']) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/livez') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end('404 page not found\n');
      return;
    }
    const { code, body } = health.respond(path === '/healthz');
    onAnswer?.(path, code);
    res.writeHead(code, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
    res.end(JSON.stringify(body));
  };
}

/** Serve /healthz and /livez. Rejects with KPNG_ERR_LISTEN when the address cannot be bound. */
export async function startHealthServer(opts: HealthServerOptions): Promise<RunningServer> {
  const server: Server = http.createServer(healthHandler(opts.health, opts.onAnswer));
  const address = await listen(server, 'healthz', opts.bind.host, opts.bind.port);
  opts.logger.info('serving /healthz and /livez', { address: `${address.address}:${address.port}` });
  return { address, close: () => close(server) };
}
