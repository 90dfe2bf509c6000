// proxy/runtime: what runs a backend. startRuntime() wires the sync runner, /healthz and
// /livez, /metrics and /proxyMode, the healthCheckNodePort servers and the UDP conntrack
// cleanup from the runtime's flags; the CLI's `... to-<backend>` stages hand its sink states.
import type { Backend, BackendDescriptor } from '../backends/backend.ts';
import type { FlagValues } from '../cli/flags.ts';
import type { IPFamily } from '../model/index.ts';
import type { LocalSink } from '../sinks/sink.ts';
import type { Clock } from './clock.ts';
import type { Runner } from '../exec.ts';
import { conntrackCleaner } from './conntrack.ts';
import { ProxyHealth, startHealthServer, type RunningServer } from './health-server.ts';
import { formatHostPort } from './http.ts';
import type { Logger } from './log.ts';
import { ProxyMetrics, startMetricsServer } from './metrics.ts';
import { NodeWatch } from './node-watch.ts';
import { runtimeConfig } from './flags.ts';
import { ServiceHealthServers } from './service-health.ts';
import { SyncRunner, type AfterSync } from './sync-runner.ts';

export { createLogger, memoryLogger, formatLine, type Logger, type Level, type LogLine } from './log.ts';
export { runtimeFlags, nodePortAddressesFlag, runtimeConfig, defaultHealthzBindAddress, defaultMetricsBindAddress, type RuntimeConfig } from './flags.ts';
export { RuntimeError, type RuntimeErrorCode } from './errors.ts';
export { systemClock, type Clock } from './clock.ts';
export { SyncRunner, type SyncRunnerOptions, type AfterSync, type LocalMeta } from './sync-runner.ts';
export { ProxyHealth, startHealthServer, rfc3339, type HealthReport, type RunningServer } from './health-server.ts';
export { ProxyMetrics, startMetricsServer, noLocalEndpointCounts, syncDurationBuckets, networkProgrammingBuckets } from './metrics.ts';
export {
  ServiceHealthServers,
  serviceHealthTargets,
  parseNodePortAddresses,
  nodePortBindAddresses,
  hostAddresses,
  type NodePortAddresses,
  type ServiceHealthTarget,
} from './service-health.ts';
export {
  planConntrackCleanup,
  conntrackArgs,
  executeConntrackPlan,
  conntrackCleaner,
  type ConntrackFilter,
} from './conntrack.ts';
export { processRunner, type Runner, type RunResult } from '../exec.ts';
export { parseBindAddress, type BindAddress } from './http.ts';

export interface StartRuntimeOptions {
  backend: Backend;
  /**
   * The backend's descriptor: /proxyMode's answer, the kpng_backend_info label and the
   * kube-proxy failure counter. Without it /proxyMode answers backend.name and only
   * kpng_sync_failures_total counts failures.
   */
  descriptor?: Pick<BackendDescriptor, 'name' | 'proxyMode' | 'metrics'>;
  /** Parsed values of runtimeFlags (absent ones take their defaults). */
  flags: FlagValues;
  logger: Logger;
  /** The families the backend programs: /healthz status entries and ip_family labels. Default IPv4 only. */
  ipFamilies?: readonly IPFamily[];
  /** Delete stale UDP conntrack flows after syncs: true (default, with the conntrack CLI), false, or a runner for conntrack. */
  conntrack?: boolean | Runner;
  /**
   * A dry run (the backends' --dry-run): change nothing on the host. No port is bound (no /healthz,
   * /metrics or healthCheckNodePort server, whatever the bind flags say) and no conntrack flow deleted.
   */
  dryRun?: boolean;
  clock?: Clock;
  /** The host's addresses, matched against --nodeport-addresses (default: the interfaces' addresses). */
  hostAddresses?: () => string[];
  /** Add prom-client's process metrics (default true). */
  processMetrics?: boolean;
}

export interface Runtime {
  /** Hand node-local states here. start() sets the backend up and starts syncing; stop() also stops every server. */
  sink: LocalSink;
  /** "host:port" of /healthz and of /metrics; undefined when disabled. */
  healthzAddress: string | undefined;
  metricsAddress: string | undefined;
  /** Same as sink.stop(): stop syncing (rules stay), close every server, then the backend's stop hook (Backend.stop). */
  stop(): Promise<void>;
}

/**
 * Build the runtime around a backend: bind /healthz (+/livez) and /metrics (+/proxyMode)
 * now (rejecting with KPNG_ERR_LISTEN or a flag error), and return the sink that syncs it.
 */
export async function startRuntime(opts: StartRuntimeOptions): Promise<Runtime> {
  const parsed = runtimeConfig(opts.flags);
  const dryRun = opts.dryRun === true;
  const config = dryRun ? { ...parsed, healthz: undefined, metrics: undefined } : parsed;
  const logger = opts.logger;
  const families = opts.ipFamilies ?? ['IPv4'];
  const clock = opts.clock;
  const health = new ProxyHealth({ healthTimeoutMs: 2 * config.syncPeriodMs, families, ...(clock && { clock }) });
  const d = opts.descriptor;
  const metrics = new ProxyMetrics({
    backend: d?.proxyMode ?? opts.backend.name,
    ...(d && { name: d.name, failures: d.metrics.failures }),
    families,
    processMetrics: opts.processMetrics ?? true,
  });
  const serviceHealth = new ServiceHealthServers({
    logger: logger.child('health-check'),
    health,
    nodePortAddresses: config.nodePortAddresses,
    ...(opts.hostAddresses && { hostAddresses: opts.hostAddresses }),
  });
  const afterSync: AfterSync[] = dryRun ? [] : [(_prev, next) => serviceHealth.update(next)];
  if (opts.conntrack !== false && !dryRun) {
    const run = typeof opts.conntrack === 'function' ? opts.conntrack : undefined;
    afterSync.push(conntrackCleaner({ logger: logger.child('conntrack'), ...(run && { run }) }));
  }

  const servers: RunningServer[] = [];
  const closeServers = () => Promise.all(servers.splice(0).map((s) => s.close()));
  try {
    if (config.healthz) {
      servers.push(await startHealthServer({ health, bind: config.healthz, logger, onAnswer: (path, code) => metrics.healthAnswered(path, code) }));
    }
    if (config.metrics) servers.push(await startMetricsServer({ metrics, bind: config.metrics, logger }));
  } catch (err) {
    await closeServers();
    throw err;
  }
  const addressOf = (i: number) => {
    const a = servers[i]?.address;
    return a && formatHostPort(a.address, a.port);
  };
  const healthzAddress = config.healthz ? addressOf(0) : undefined;
  const metricsAddress = config.metrics ? addressOf(config.healthz ? 1 : 0) : undefined;

  const runner = new SyncRunner({
    backend: opts.backend,
    logger: logger.child('sync'),
    minSyncPeriodMs: config.minSyncPeriodMs,
    syncPeriodMs: config.syncPeriodMs,
    metrics,
    health,
    afterSync,
    ...(clock && { clock }),
  });

  const nodeWatch = new NodeWatch({ logger, gauge: metrics });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await runner.stop();
      await serviceHealth.close();
      await closeServers();
      // After the last sync, and after the health checks stopped answering (load balancers
      // look elsewhere while what the backend carries drains).
      await opts.backend.stop?.();
    })();
    return stopping;
  };
  const sink: LocalSink = {
    start: () => runner.start(),
    onLocal: (state, changes, meta) => {
      nodeWatch.observe(state.node);
      runner.onLocal(state, changes, meta);
    },
    drain: () => runner.drain(),
    stop,
  };
  return { sink, healthzAddress, metricsAddress, stop };
}
