// The real proxy as a process inside a node's namespace:
//   node proxy/cli.ts file --input=<snapshot> to-local --node-name=<node> to-<backend> ...
// and how the suite knows it has synced a change: its own /metrics, read from inside the
// namespace. A change written at time T is in effect once the proxy queued a state at or
// after T (kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds), a sync succeeded
// after that (..._last_timestamp_seconds, reported once the after-sync steps, conntrack
// cleanup and health check servers, are done) and no change is pending (..._pending).
import { fileURLToPath } from 'node:url';
import { type Node, NsProcess, type Topology, ProbeError, nodeScopeArgs, programEnv, projectNode } from '../../../harness/lab/netns/index.ts';
import type { Dataplane } from './dataplanes.testkit.ts';
import { MetricsPage } from './metrics-text.ts';

const cli = fileURLToPath(new URL('../../cli.ts', import.meta.url));
const metricsURL = 'http://127.0.0.1:10249/metrics';

export interface ProxyOptions {
  topology: Topology;
  node: Node;
  dataplane: Dataplane;
  /** The snapshot file the proxy reads (and re-reads on change). */
  input: string;
  /** --sync-period, e.g. "1s". */
  syncPeriod: string;
  /** Options for node itself, before the program (e.g. --heapsnapshot-signal=SIGUSR2). */
  nodeOptions?: readonly string[];
  /** KPNG_LOG_LEVEL (default info). */
  logLevel?: string;
  /** The process's working directory (where node writes heap snapshots). */
  cwd?: string;
}

/** What a sync looks like in the metrics. */
export interface SyncMarks {
  /** kubeproxy_sync_proxy_rules_last_timestamp_seconds, in ms. */
  lastSync: number;
  full: number;
  partial: number;
  failures: number;
}

export class ProxyUnderTest {
  readonly node: Node;
  readonly process: NsProcess;
  readonly dataplane: Dataplane;

  private constructor(node: Node, child: NsProcess, dataplane: Dataplane) {
    this.node = node;
    this.process = child;
    this.dataplane = dataplane;
  }

  /**
   * Starts the proxy in the node's namespace (the topology ends it when destroyed), with
   * the host's mounts as a node's proxy pod has them (/sys/fs/cgroup, /sys/fs/bpf), and
   * kept to the node as its backend's scope asks (a cgroup-scoped one: the node's cgroup
   * and state folder).
   */
  static start(o: ProxyOptions): ProxyUnderTest {
    const args = [
      ...(o.nodeOptions ?? []),
      '--disable-warning=ExperimentalWarning',
      cli,
      'file',
      `--input=${o.input}`,
      '--debounce=20ms',
      'to-local',
      `--node-name=${o.node.name}`,
      o.dataplane.stage,
      ...o.dataplane.args(o.topology),
      ...nodeScopeArgs(o.dataplane.scope, o.node),
      `--sync-period=${o.syncPeriod}`,
    ];
    const child = o.node.spawn(projectNode(), args, { env: { ...programEnv(), KPNG_LOG_LEVEL: o.logLevel ?? 'info' }, hostMounts: true, ...(o.cwd !== undefined && { cwd: o.cwd }) });
    return new ProxyUnderTest(o.node, child, o.dataplane);
  }

  /** Its /metrics, read from inside the node. */
  async metrics(): Promise<MetricsPage> {
    const response = await this.node.httpGet(metricsURL, { timeoutMs: 5_000 });
    if (response.status !== 200) throw new Error(`${metricsURL} on ${this.node.name} answered ${response.status}: ${response.body}`);
    return new MetricsPage(response.body);
  }

  /** The sync counters now. */
  async marks(): Promise<SyncMarks> {
    return marksOf(await this.metrics(), this.dataplane);
  }

  /** Resolves with the metrics once they satisfy `done`; polls every 20 ms. */
  async waitFor(what: string, done: (page: MetricsPage) => boolean, timeoutMs = 30_000): Promise<MetricsPage> {
    const deadline = Date.now() + timeoutMs;
    let last: string;
    for (;;) {
      if (!this.process.running) throw new Error(`the proxy on ${this.node.name} exited (${JSON.stringify(this.process.exit)}) while waiting for ${what}; output:\n${this.process.output}`);
      try {
        const page = await this.metrics();
        if (done(page)) return page;
        last = summary(page);
      } catch (error) {
        // Not listening yet: refused.
        if (!(error instanceof ProbeError)) throw error;
        last = error.message;
      }
      if (Date.now() > deadline) {
        throw new Error(`the proxy on ${this.node.name} did not reach "${what}" within ${timeoutMs} ms (last: ${last}); output:\n${this.process.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Waits until a change written at `since` (ms since the epoch) is in effect. */
  waitForSync(since: number, timeoutMs?: number): Promise<MetricsPage> {
    return this.waitFor(`synced a change written at ${new Date(since).toISOString()}`, (page) => syncedSince(page, since), timeoutMs);
  }

  /** Waits until the proxy's output from `from` (a length of `process.output` taken earlier) on matches. */
  async waitForOutputSince(from: number, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.process.output.slice(from))) {
      if (!this.process.running || Date.now() > deadline) {
        throw new Error(`the proxy on ${this.node.name} did not print ${pattern} within ${timeoutMs} ms; output since:\n${this.process.output.slice(from)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

const queuedMetric = 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds';
const syncedMetric = 'kubeproxy_sync_proxy_rules_last_timestamp_seconds';

/** Whether everything queued at or after `since` has been synced and nothing waits. */
export function syncedSince(page: MetricsPage, since: number): boolean {
  const queued = page.max(queuedMetric);
  const synced = page.max(syncedMetric);
  const pending = (page.value('kubeproxy_sync_proxy_rules_service_changes_pending') ?? 0) + (page.value('kubeproxy_sync_proxy_rules_endpoint_changes_pending') ?? 0);
  return queued !== undefined && synced !== undefined && Math.round(queued * 1000) >= since && synced >= queued && pending === 0;
}

export function marksOf(page: MetricsPage, dataplane: Dataplane): SyncMarks {
  return {
    lastSync: Math.round((page.max(syncedMetric) ?? 0) * 1000),
    // One family's histogram counts each sync once.
    full: page.max('kubeproxy_sync_full_proxy_rules_duration_seconds_count') ?? 0,
    partial: page.max('kubeproxy_sync_partial_proxy_rules_duration_seconds_count') ?? 0,
    failures: page.max(dataplane.failureCounter) ?? 0,
  };
}

function summary(page: MetricsPage): string {
  const names = [queuedMetric, syncedMetric, 'kubeproxy_sync_proxy_rules_service_changes_pending', 'kubeproxy_sync_proxy_rules_endpoint_changes_pending'];
  return names.map((n) => `${n.replace('kubeproxy_sync_proxy_rules_', '')}=${page.max(n) ?? 'none'}`).join(' ');
}
