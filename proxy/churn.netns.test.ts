// Memory under churn, counted rather than timed: every endpoint of every Service changes,
// round after round, through the proxy's own path in this process — cluster state →
// to-local → the runtime (sync runner, metrics, health check servers, UDP conntrack
// cleanup) → a backend applying its rules in a namespace — and what the path keeps must
// not grow with the rounds: the node-local states still in memory, the metrics' label
// sets, the process's listeners, the backend's view of the kernel (nftables: chains, map
// elements, chains waiting to be deleted) and the kernel's chains and rules. npm run bench:soak
// measures the same path as a process, in megabytes.
import { describe, expect, it } from 'vitest';
import { useTopology } from '../harness/lab/netns/testing.ts';
import type { Backend } from './backends/backend.ts';
import { netnsRunner, type Runner } from './backends/common/index.ts';
import { IptablesBackend } from './backends/iptables/index.ts';
import { NftBackend } from './backends/nft/index.ts';
import { ClusterState, type LocalState } from './model/index.ts';
import { node, service, slice, stillAlive } from './model/testing.ts';
import { memoryLogger, startRuntime } from './runtime/index.ts';
import { freePort, get } from './runtime/testing.ts';
import type { LocalSink } from './sinks/sink.ts';
import { ToLocal } from './sinks/to-local.ts';

const lab = useTopology({ family: 'ipv4', nodes: ['node-1'] });

const services = 30;
const rounds = 25;
const processEvents = ['exit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'uncaughtException', 'unhandledRejection', 'warning'] as const;

/** The cluster at round `round`: every Service's two endpoints move each round; every tenth Service also has a UDP port (conntrack cleanup). */
function objects(round: number, healthCheckNodePort: number): unknown[] {
  const out: unknown[] = [node('node-1', { addresses: ['10.99.0.11'] })];
  for (let i = 0; i < services; i++) {
    const local = i === 0; // one Service with externalTrafficPolicy Local: a health check server
    const udp = i % 10 === 0;
    out.push(
      service(`svc-${i}`, {
        namespace: 'churn',
        type: local ? 'NodePort' : 'ClusterIP',
        clusterIPs: [`10.96.0.${10 + i}`],
        ports: [
          { name: 'http', port: 80, targetPort: 8080, ...(local && { nodePort: 30080 }) },
          ...(udp ? [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }] : []),
        ],
        ...(local && { etp: 'Local' as const, healthCheckNodePort }),
      }),
    );
    const eps = [0, 1].map((e) => ({ ip: `10.244.${(round * 2 + e) % 250}.${10 + i}`, node: e === 0 ? 'node-1' : 'node-2' }));
    const ports = [{ name: 'http', port: 8080 }, ...(udp ? [{ name: 'dns', port: 5353, protocol: 'UDP' }] : [])];
    out.push(slice(`svc-${i}-1`, `svc-${i}`, eps, { namespace: 'churn', ports }));
  }
  return out;
}

/** A backend under test: how to make it, and what it and the kernel hold (counts that must not grow). */
interface Subject {
  title: string;
  create(run: Runner, now: () => number): Backend & { dispose?(): void };
  /** What the backend and the kernel hold once the last sync's leftovers are due for deletion. */
  held(backend: Backend, run: Runner, advance: () => void): Promise<Record<string, number>>;
  /** The rules as text, to check they are the latest round's. */
  rules(run: Runner): Promise<string>;
}

const subjects: Subject[] = [
  {
    title: 'nftables (its view and table, chains waiting to be deleted)',
    create: (run, now) => new NftBackend({ logger: memoryLogger(), run, families: ['IPv4'], clusterCIDRs: ['10.244.0.0/16'], now }),
    held: async (backend, run, advance) => {
      const nft = backend as NftBackend;
      // Chains flushed in the last sync wait staleChainDelayMs (1 s) before they are deleted.
      advance();
      await nft.deleteStaleChains();
      const view = nft.views!.get('IPv4')!;
      const table = (await run('nft', ['list', 'table', 'ip', 'kpng'])).stdout;
      return {
        viewPorts: view.ports.size,
        viewElements: view.elements.size,
        staleChains: view.stale.size,
        kernelChains: (table.match(/^\s*chain /gm) ?? []).length,
        kernelElements: (table.match(/ : (goto|jump) /g) ?? []).length,
      };
    },
    rules: async (run) => (await run('nft', ['list', 'table', 'ip', 'kpng'])).stdout,
  },
  {
    title: 'iptables (legacy: its chains and rules in the kernel)',
    create: (run) => new IptablesBackend({ logger: memoryLogger(), run, mode: 'legacy', families: ['IPv4'], clusterCIDRs: ['10.244.0.0/16'] }),
    held: async (_backend, run) => {
      const saved = (await run('iptables-legacy-save', [])).stdout.split('\n');
      return {
        kernelChains: saved.filter((l) => l.startsWith(':KUBE-')).length,
        kernelRules: saved.filter((l) => l.startsWith('-A ')).length,
      };
    },
    rules: async (run) => (await run('iptables-legacy-save', ['-t', 'nat'])).stdout,
  },
];

describe('memory under churn', () => {
  it.each(subjects)(`${rounds} rounds of every endpoint changing: the states in memory, the metrics' label sets, the listeners and $title stay the same size`, async (subject) => {
    const netns = lab().node('node-1').netns;
    const run = netnsRunner(netns);
    let now = Date.now();
    const backend = subject.create(run, () => now);
    const hcPort = await freePort();
    const runtime = await startRuntime({
      backend,
      logger: memoryLogger(),
      flags: { 'healthz-bind-address': '', 'metrics-bind-address': '127.0.0.1:0', 'nodeport-addresses': ['127.0.0.0/8'] },
      conntrack: (file, args) => run(file, args),
      hostAddresses: () => ['127.0.0.1'],
      processMetrics: false,
    });
    // Every state handed to the runtime, weakly: how many of them are still in memory.
    const handed: Array<WeakRef<LocalState>> = [];
    const inner = runtime.sink;
    const counting: LocalSink = {
      start: () => inner.start(),
      onLocal: (state, changes, meta) => {
        handed.push(new WeakRef(state));
        inner.onLocal(state, changes, meta);
      },
      drain: () => inner.drain(),
      stop: () => inner.stop(),
    };
    const toLocal = new ToLocal('node-1', counting);
    const cluster = new ClusterState();

    const measure = async (): Promise<Record<string, number>> => {
      const metrics = (await get(`http://${runtime.metricsAddress!}/metrics`)).body;
      return {
        ...(await subject.held(backend, run, () => (now += 1_000))),
        metricSeries: metrics.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length,
        listeners: processEvents.reduce((n, e) => n + process.listenerCount(e), 0),
      };
    };

    try {
      await toLocal.start();
      const apply = async (round: number) => {
        const { delta } = cluster.replaceAll(objects(round, hcPort));
        toLocal.onCluster(cluster, delta);
        await toLocal.drain();
      };
      await apply(0);
      await apply(1); // the first partial sync: every series and chain kind exists from here on
      const first = await measure();
      expect(first.kernelChains).toBeGreaterThan(services);
      for (let round = 2; round <= rounds; round++) await apply(round);
      const last = await measure();

      expect(handed).toHaveLength(rounds + 1); // every round changed every Service
      expect(last).toEqual(first);
      if ('staleChains' in first) expect(first.staleChains).toBe(0);
      // The latest state (ToLocal's, and the runner's applied one), maybe one more a dead local still holds; never one a round.
      expect(await stillAlive(handed)).toBeLessThanOrEqual(2);
      // And the rules are the latest round's.
      const rules = await subject.rules(run);
      expect(rules).toContain(`10.244.${(rounds * 2) % 250}.10`);
      expect(rules).not.toContain(`10.244.${((rounds - 1) * 2) % 250}.10 `);
      expect(rules).not.toContain(`10.244.${((rounds - 1) * 2) % 250}.10:`);
    } finally {
      await runtime.stop();
      backend.dispose?.();
    }
  });
});
