// kube-proxy's metrics (pkg/proxy/metrics), same names, help texts, buckets and labels,
// in a registry of their own (never prom-client's global one), and the metrics server on
// --metrics-bind-address: /metrics, /proxyMode and a plain /healthz, as kube-proxy's.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets, linearBuckets } from 'prom-client';
import type { FailureMetric, SyncStats } from '../backends/backend.ts';
import type { IPFamily, LocalState } from '../model/index.ts';
import type { RunningServer } from './health-server.ts';
import { close, http, listen, type BindAddress } from './http.ts';
import type { Logger } from './log.ts';

/** kube-proxy's sync duration buckets: 1 ms doubling 15 times (to ~16 s). */
export const syncDurationBuckets: readonly number[] = exponentialBuckets(0.001, 2, 15);

/** kube-proxy's network programming buckets: 0, 0.25 s, 0.5 s, 1–59 s, 60–115 s by 5, 2–5 min by 30 s. */
export const networkProgrammingBuckets: readonly number[] = [
  0,
  ...linearBuckets(0.25, 0.25, 2),
  ...linearBuckets(1, 1, 59),
  ...linearBuckets(60, 5, 12),
  ...linearBuckets(120, 30, 7),
];

export interface ProxyMetricsOptions {
  /** What /proxyMode answers: the backend descriptor's proxyMode (kube-proxy's word). */
  backend: string;
  /** The descriptor's name: the `backend` label of kpng_backend_info (default: `backend`). */
  name?: string;
  /** The kube-proxy counter a failed sync raises: the descriptor's metrics.failures (default 'none': only kpng_sync_failures_total). */
  failures?: FailureMetric;
  /** The families the proxy programs: the ip_family label values. The first is the primary one. */
  families: readonly IPFamily[];
  /** Add prom-client's process and Node.js metrics (default true). */
  processMetrics?: boolean;
}

export interface ChangeCounts {
  services: number;
  endpoints: number;
}

export interface SyncRecord {
  full: boolean;
  seconds: number;
  /** When the sync finished (ms since the epoch). */
  at: number;
  stats: SyncStats;
  state: LocalState;
  /** Seconds from each change's observation to this sync's success. */
  programmingSeconds: readonly number[];
}

/** Service ports with a Local traffic policy and no local endpoints, per family (kube-proxy counts those that DROP, not those that REJECT). */
export function noLocalEndpointCounts(state: LocalState): Map<IPFamily, { internal: number; external: number }> {
  const out = new Map<IPFamily, { internal: number; external: number }>();
  for (const sp of state.servicePorts.values()) {
    for (const family of ['IPv4', 'IPv6'] as const) {
      const has = sp.hasEndpoints[family];
      if (has === undefined) continue;
      const counts = out.get(family) ?? { internal: 0, external: 0 };
      out.set(family, counts);
      if (!has) continue;
      if (sp.internalPolicyLocal && !sp.internalEndpoints.some((e) => e.family === family)) counts.internal++;
      if (sp.externalPolicyLocal && !sp.externalEndpoints.some((e) => e.family === family)) counts.external++;
    }
  }
  return out;
}

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly backend: string;
  readonly failures: FailureMetric;
  readonly families: readonly IPFamily[];

  readonly #syncDuration: Histogram<'ip_family'>;
  readonly #fullDuration: Histogram<'ip_family'>;
  readonly #partialDuration: Histogram<'ip_family'>;
  readonly #lastTimestamp: Gauge<'ip_family'>;
  readonly #lastQueued: Gauge<'ip_family'>;
  readonly #programming: Histogram<'ip_family'>;
  readonly #endpointPending: Gauge;
  readonly #endpointTotal: Counter;
  readonly #servicePending: Gauge;
  readonly #serviceTotal: Counter;
  readonly #restoreFailures: Counter<'ip_family'>;
  readonly #partialRestoreFailures: Counter<'ip_family'>;
  readonly #iptablesTotal: Gauge<'ip_family' | 'table'>;
  readonly #nftFailures: Counter<'ip_family'>;
  readonly #noLocal: Gauge<'ip_family' | 'traffic_policy'>;
  readonly #healthz: Counter<'code'>;
  readonly #livez: Counter<'code'>;
  readonly #failures: Counter;
  readonly #leftOut: Gauge;
  readonly #nodeKnown: Gauge;

  constructor(opts: ProxyMetricsOptions) {
    this.backend = opts.backend;
    this.failures = opts.failures ?? 'none';
    this.families = opts.families;
    const registers = [this.registry];
    const fam = ['ip_family'] as const;
    const histogram = (name: string, help: string, buckets: readonly number[]) =>
      new Histogram({ name: `kubeproxy_${name}`, help, labelNames: fam, buckets: [...buckets], registers });
    const familyCounter = (name: string, help: string) => new Counter({ name: `kubeproxy_${name}`, help, labelNames: fam, registers });

    this.#syncDuration = histogram('sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds', syncDurationBuckets);
    this.#fullDuration = histogram('sync_full_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for full resyncs', syncDurationBuckets);
    this.#partialDuration = histogram('sync_partial_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for partial resyncs', syncDurationBuckets);
    this.#programming = histogram('network_programming_duration_seconds', 'In Cluster Network Programming Latency in seconds', networkProgrammingBuckets);
    this.#lastTimestamp = new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', help: 'The last time proxy rules were successfully synced', labelNames: fam, registers });
    this.#lastQueued = new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', help: 'The last time a sync of proxy rules was queued', labelNames: fam, registers });
    this.#endpointPending = new Gauge({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_pending', help: 'Pending proxy rules Endpoint changes', registers });
    this.#endpointTotal = new Counter({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_total', help: 'Cumulative proxy rules Endpoint changes', registers });
    this.#servicePending = new Gauge({ name: 'kubeproxy_sync_proxy_rules_service_changes_pending', help: 'Pending proxy rules Service changes', registers });
    this.#serviceTotal = new Counter({ name: 'kubeproxy_sync_proxy_rules_service_changes_total', help: 'Cumulative proxy rules Service changes', registers });
    this.#restoreFailures = familyCounter('sync_proxy_rules_iptables_restore_failures_total', 'Cumulative proxy iptables restore failures');
    this.#partialRestoreFailures = familyCounter('sync_proxy_rules_iptables_partial_restore_failures_total', 'Cumulative proxy iptables partial restore failures');
    this.#nftFailures = familyCounter('sync_proxy_rules_nftables_sync_failures_total', 'Cumulative proxy nftables sync failures');
    this.#iptablesTotal = new Gauge({ name: 'kubeproxy_sync_proxy_rules_iptables_total', help: 'Total number of iptables rules owned by kube-proxy', labelNames: ['ip_family', 'table'], registers });
    this.#noLocal = new Gauge({
      name: 'kubeproxy_sync_proxy_rules_no_local_endpoints_total',
      help: 'Number of services with a Local traffic policy and no endpoints',
      labelNames: ['ip_family', 'traffic_policy'],
      registers,
    });
    this.#healthz = new Counter({ name: 'kubeproxy_proxy_healthz_total', help: 'Cumulative proxy healthz HTTP status', labelNames: ['code'], registers });
    this.#livez = new Counter({ name: 'kubeproxy_proxy_livez_total', help: 'Cumulative proxy livez HTTP status', labelNames: ['code'], registers });
    this.#failures = new Counter({ name: 'kpng_sync_failures_total', help: 'Cumulative failed syncs of any backend', registers });
    this.#leftOut = new Gauge({ name: 'kpng_service_ports_left_out', help: 'Service ports left out of the dataplane: their rules cannot be written, or the kernel refused them', registers });
    this.#nodeKnown = new Gauge({
      name: 'kpng_node_known',
      help: 'Whether --node-name matches a Node object (1) or not, or not yet (0): with 0, no endpoint is local and no topology hint applies',
      registers,
    });

    new Gauge({
      name: 'kpng_backend_info',
      help: 'The backend this proxy runs (its name, the stage to-<name>) and what /proxyMode answers',
      labelNames: ['backend', 'proxy_mode'],
      registers,
    }).set({ backend: opts.name ?? opts.backend, proxy_mode: opts.backend }, 1);

    // Series that exist from the start, so a dashboard sees 0 rather than nothing.
    for (const ip_family of this.families) {
      for (const h of [this.#syncDuration, this.#fullDuration, this.#partialDuration, this.#programming]) h.zero({ ip_family });
      if (this.failures === 'iptables-restore') {
        this.#restoreFailures.inc({ ip_family }, 0);
        this.#partialRestoreFailures.inc({ ip_family }, 0);
      }
      if (this.failures === 'nftables-sync') this.#nftFailures.inc({ ip_family }, 0);
      this.#noLocal.set({ ip_family, traffic_policy: 'internal' }, 0);
      this.#noLocal.set({ ip_family, traffic_policy: 'external' }, 0);
    }
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** A new state was handed to the runner, with this many changed service ports of each kind. */
  queued(at: number, added: ChangeCounts): void {
    for (const ip_family of this.families) this.#lastQueued.set({ ip_family }, at / 1000);
    this.#serviceTotal.inc(added.services);
    this.#endpointTotal.inc(added.endpoints);
  }

  /** Service ports with changes not yet successfully synced. */
  pending(counts: ChangeCounts): void {
    this.#servicePending.set(counts.services);
    this.#endpointPending.set(counts.endpoints);
  }

  /** A sync succeeded. */
  synced(r: SyncRecord): void {
    for (const ip_family of this.families) {
      this.#syncDuration.observe({ ip_family }, r.seconds);
      (r.full ? this.#fullDuration : this.#partialDuration).observe({ ip_family }, r.seconds);
      this.#lastTimestamp.set({ ip_family }, r.at / 1000);
      for (const s of r.programmingSeconds) this.#programming.observe({ ip_family }, Math.max(0, s));
    }
    for (const [key, count] of Object.entries(r.stats.rulesPerTable ?? {})) {
      // "nat" is the primary family's table; "IPv6/nat" names the family.
      const slash = key.indexOf('/');
      const ip_family = slash < 0 ? this.families[0] : key.slice(0, slash);
      const table = slash < 0 ? key : key.slice(slash + 1);
      if (ip_family !== undefined) this.#iptablesTotal.set({ ip_family, table }, count);
    }
    this.#leftOut.set(r.stats.leftOut?.length ?? 0);
    // A transaction the kernel refused before the rest was programmed counts as kube-proxy counts a failed restore.
    for (let i = 0; i < (r.stats.refusedTransactions ?? 0); i++) this.#backendFailed(r.full);
    const noLocal = noLocalEndpointCounts(r.state);
    for (const ip_family of this.families) {
      const c = noLocal.get(ip_family) ?? { internal: 0, external: 0 };
      this.#noLocal.set({ ip_family, traffic_policy: 'internal' }, c.internal);
      this.#noLocal.set({ ip_family, traffic_policy: 'external' }, c.external);
    }
  }

  /** A sync failed: the backend's kube-proxy failure counter rises (iptables: restore, and partial restore when it was partial; nftables: sync). */
  failed(full: boolean): void {
    this.#failures.inc();
    this.#backendFailed(full);
  }

  #backendFailed(full: boolean): void {
    for (const ip_family of this.families) {
      if (this.failures === 'iptables-restore') {
        this.#restoreFailures.inc({ ip_family });
        if (!full) this.#partialRestoreFailures.inc({ ip_family });
      }
      if (this.failures === 'nftables-sync') this.#nftFailures.inc({ ip_family });
    }
  }

  /** Whether --node-name matches a Node object. */
  nodeKnown(known: boolean): void {
    this.#nodeKnown.set(known ? 1 : 0);
  }

  /** An answer of the health server. */
  healthAnswered(path: '/healthz' | '/livez', code: number): void {
    (path === '/healthz' ? this.#healthz : this.#livez).inc({ code: String(code) });
  }
}

export interface MetricsServerOptions {
  metrics: ProxyMetrics;
  bind: BindAddress;
  logger: Logger;
}

export function metricsHandler(metrics: ProxyMetrics) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const text = (code: number, body: string) => {
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end(body);
    };
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
          res.end(body);
        },
        (err: unknown) => text(500, `${err instanceof Error ? err.message : String(err)}\n`),
      );
    } else if (path === '/proxyMode') text(200, metrics.backend);
    else if (path === '/healthz') text(200, 'ok');
    else text(404, '404 page not found\n');
  };
}

/** Serve /metrics, /proxyMode and /healthz. Rejects with KPNG_ERR_LISTEN when the address cannot be bound. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<RunningServer> {
  const server = http.createServer(metricsHandler(opts.metrics));
  const address = await listen(server, 'metrics', opts.bind.host, opts.bind.port);
  opts.logger.info('serving /metrics and /proxyMode', { address: `${address.address}:${address.port}` });
  return { address, close: () => close(server) };
}
