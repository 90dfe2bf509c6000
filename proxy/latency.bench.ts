// npm run bench:latency — how long from an API write to (a) the node-local state emitted
// and (b) the rules applied, with N Services already in the cluster. A real etcd +
// kube-apiserver on loopback; in this process the kube source, to-local and a backend
// under the runtime as `to-<backend>` runs it, applying its rules in a scratch network
// namespace (the netns lab's); every backend of the list in the same run. Each change moves one endpoint of one Service's
// EndpointSlice (JSON merge patch) and waits until it is applied before the next.
//
//   BENCH_SERVICES=1000,10000  BENCH_CHANGES=200  BENCH_ENDPOINTS=2  BENCH_BACKENDS=iptables-nft,nft  npm run bench:latency
//   (backends: the entries of proxy/backends/bench/subjects.ts)
//
// Needs root and the control-plane binaries (make k8s-binaries).
import { availableParallelism, loadavg } from 'node:os';
import { startControlPlane } from '../harness/lab/control-plane/index.ts';
import type { Backend } from './backends/backend.ts';
import { appliesRules, benchNode, subjects, type BenchSubject } from './backends/bench/subjects.ts';
import { apiClient, inParallel, quantile } from './bench/api-client.ts';
import { waitedChildrenCpuMs } from './bench/process-stats.ts';
import type { Runner } from './backends/common/index.ts';
import type { LocalState, NodeView, ViewChanges } from './model/index.ts';
import { createLogger } from './runtime/log.ts';
import { startRuntime, type Runtime } from './runtime/index.ts';
import type { LocalSink } from './sinks/sink.ts';
import { ToLocal } from './sinks/to-local.ts';
import { KubeSource } from './sources/kube/kube-source.ts';
import { errorText } from './errors.ts';

const sizes = (process.env.BENCH_SERVICES ?? '1000,10000').split(',').map(Number);
const changes = Number(process.env.BENCH_CHANGES ?? 200);
const endpointsPerService = Number(process.env.BENCH_ENDPOINTS ?? 2);
const backendNames = (process.env.BENCH_BACKENDS ?? 'iptables-nft,nft').split(',');
for (const b of backendNames) {
  if (!(b in subjects)) throw new Error(errorText('KPNG_ERR_BENCH', `BENCH_BACKENDS names "${b}"; accepted: ${Object.keys(subjects).join(', ')}`));
}
const nodeName = 'node-1';
const ns = 'bench';

const endpointIP = (n: number) => `10.${128 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;
const endpoints = (s: number, shift: number) =>
  Array.from({ length: endpointsPerService }, (_, e) => ({
    addresses: [endpointIP((s * endpointsPerService + e + shift * 1_000_003) % (1 << 22))],
    conditions: { ready: true },
    nodeName: `node-${1 + ((s + e) % 2)}`,
  }));

/** Resolves when `pred` holds for a state handed to `watch`. */
class Waiter {
  private pending: { pred: (s: LocalState) => boolean; resolve: (t: number) => void } | undefined;
  expect(pred: (s: LocalState) => boolean): Promise<number> {
    return new Promise((resolve) => (this.pending = { pred, resolve }));
  }
  see(state: LocalState): void {
    if (this.pending?.pred(state)) {
      const p = this.pending;
      this.pending = undefined;
      p.resolve(performance.now());
    }
  }
}

interface Row {
  backend: string;
  services: number;
  changes: number;
  'write→state p50 ms': number;
  'write→state p99 ms': number;
  'write→rules p50 ms': number;
  'write→rules p99 ms': number;
  'sync p50 ms': number;
  'sync p99 ms': number;
  'kernel tool p50 ms': number;
  'kernel tool p99 ms': number;
  'kernel tool CPU p50 ms': number;
  'kernel tool CPU p99 ms': number;
  'first full sync ms': number;
}

async function measure(subject: BenchSubject, services: number): Promise<Row> {
  const log = (line: string) => process.stderr.write(`bench:latency [${subject.name} ${services}] ${line}\n`);
  const cp = await startControlPlane({ family: 'ipv4', log });
  const { topology, node, run: inner } = await benchNode(subject, nodeName);
  const ctrl = new AbortController();
  let running: Promise<void> | undefined;
  let runtime: Runtime | undefined;
  try {
    const api = await apiClient(cp);
    await api('POST', '/api/v1/namespaces', { metadata: { name: ns } });
    log(`creating ${services} Services and EndpointSlices`);
    const t0 = performance.now();
    await inParallel([...Array(services).keys()], 32, async (s) => {
      await api('POST', `/api/v1/namespaces/${ns}/services`, { metadata: { name: `svc-${s}` }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
      await api('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
        metadata: { name: `svc-${s}-1`, labels: { 'kubernetes.io/service-name': `svc-${s}` } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: endpoints(s, 0),
      });
    });
    log(`created in ${Math.round(performance.now() - t0)} ms`);

    const logger = createLogger({ level: 'warn' });
    const toolMs: number[] = [];
    // The kernel tool's wall time, and its CPU time (user + system, in 10 ms ticks, read
    // from this process's waited-for children: on a loaded machine the wall time is mostly
    // waiting for a core). A tamper check's read reaped meanwhile would count too.
    const toolCpuMs: number[] = [];
    const run: Runner = async (file, args, opts) => {
      const applies = appliesRules(args, opts);
      const cpu = applies ? await waitedChildrenCpuMs(process.pid) : 0;
      const t = performance.now();
      const r = await inner(file, args, opts);
      if (applies) {
        toolMs.push(performance.now() - t);
        toolCpuMs.push((await waitedChildrenCpuMs(process.pid)) - cpu);
      }
      return r;
    };
    const backend = subject.create(run, logger, node);
    const syncMs: number[] = [];
    const emitted = new Waiter();
    const applied = new Waiter();
    // The rules are applied when the backend's sync resolves (its kernel tool has exited).
    const timedBackend: Backend = {
      name: backend.name,
      setup: () => backend.setup(),
      sync: async (view: NodeView, ch: ViewChanges | undefined) => {
        const t = performance.now();
        const r = await backend.sync(view, ch);
        syncMs.push(performance.now() - t);
        applied.see(view.state);
        return r;
      },
      ...(backend.tampered && { tampered: () => backend.tampered!() }),
      cleanup: () => backend.cleanup(),
    };
    // The runtime as `to-<backend>` runs it (metrics, health, conntrack cleanup in the namespace), without its HTTP servers.
    runtime = await startRuntime({
      backend: timedBackend,
      flags: { 'healthz-bind-address': '', 'metrics-bind-address': '' },
      logger,
      ipFamilies: ['IPv4'],
      conntrack: (file, args) => inner(file, args),
      hostAddresses: () => [],
      processMetrics: false,
    });
    const rt = runtime.sink;
    const probe: LocalSink = {
      start: () => rt.start(),
      onLocal: (state, ch, meta) => {
        emitted.see(state);
        rt.onLocal(state, ch, meta);
      },
      drain: () => rt.drain(),
      stop: () => rt.stop(),
    };
    const sink = new ToLocal(nodeName, probe);
    const source = new KubeSource({ kubeconfig: cp.kubeconfig, watchInactivityMs: 90_000, batchMs: 0, logger });
    await sink.start();
    const ready = applied.expect((s) => s.servicePorts.size >= services);
    const tStart = performance.now();
    running = source.run(sink, ctrl.signal);
    await ready;
    const firstSync = performance.now() - tStart;
    log(`first full sync applied ${Math.round(firstSync)} ms after start`);
    syncMs.length = 0;
    toolMs.length = 0;
    toolCpuMs.length = 0;

    const toState: number[] = [];
    const toRules: number[] = [];
    for (let i = 1; i <= changes; i++) {
      const s = (i * 7919) % services;
      const eps = endpoints(s, i);
      const key = `${ns}/svc-${s}:http`;
      const want = eps[0]!.addresses[0]!;
      const has = (st: LocalState) => st.servicePorts.get(key)?.clusterEndpoints.some((e) => e.address === want) ?? false;
      const gotState = emitted.expect(has);
      const gotRules = applied.expect(has);
      const t = performance.now();
      await api('PATCH', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/svc-${s}-1`, { endpoints: eps }, 'application/merge-patch+json');
      toState.push((await gotState) - t);
      toRules.push((await gotRules) - t);
    }
    const r = (x: number) => +x.toFixed(1);
    return {
      backend: subject.name,
      services,
      changes,
      'write→state p50 ms': r(quantile(toState, 0.5)),
      'write→state p99 ms': r(quantile(toState, 0.99)),
      'write→rules p50 ms': r(quantile(toRules, 0.5)),
      'write→rules p99 ms': r(quantile(toRules, 0.99)),
      'sync p50 ms': r(quantile(syncMs, 0.5)),
      'sync p99 ms': r(quantile(syncMs, 0.99)),
      'kernel tool p50 ms': r(quantile(toolMs, 0.5)),
      'kernel tool p99 ms': r(quantile(toolMs, 0.99)),
      'kernel tool CPU p50 ms': r(quantile(toolCpuMs, 0.5)),
      'kernel tool CPU p99 ms': r(quantile(toolCpuMs, 0.99)),
      'first full sync ms': Math.round(firstSync),
    };
  } finally {
    ctrl.abort();
    await running;
    await runtime?.stop();
    await topology.destroy();
    await cp.stop();
  }
}

const rows: Row[] = [];
for (const n of sizes) for (const b of backendNames) rows.push(await measure(subjects[b]!, n));
console.log(
  `bench:latency — API write → node-local state → rules applied (in a network namespace), ${endpointsPerService} endpoints per Service, ${changes} changes, node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg().map((x) => x.toFixed(1)).join(' / ')} (1 / 5 / 15 min) at the end`,
);
console.table(rows);
