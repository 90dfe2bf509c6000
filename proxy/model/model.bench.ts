// npm run bench:model — time and heap to compute one node's local state for N Services
// × 10 endpoints from scratch, and after one endpoint change. Prints a table.
import { ClusterState } from './cluster-state.ts';
import { localChanges } from './changes.ts';
import { computeLocalState, updateLocalState } from './local-state.ts';
import { syntheticObjects, syntheticSlice } from './testing.ts';

const sizes = (process.env.BENCH_SERVICES ?? '1000,10000').split(',').map(Number);
const endpoints = 10;
const rounds = 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const gc = (globalThis as { gc?: () => void }).gc;
const heapMB = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const rows: Record<string, string | number>[] = [];
for (const n of sizes) {
  const objects = syntheticObjects(n, endpoints);
  const heap0 = heapMB();
  const cluster = new ClusterState();
  let t = performance.now();
  cluster.replaceAll(objects);
  const ingestMs = performance.now() - t;
  const heapCluster = heapMB();

  const scratch: number[] = [];
  let state = computeLocalState(cluster, { nodeName: 'node-0' });
  for (let i = 0; i < rounds; i++) {
    t = performance.now();
    state = computeLocalState(cluster, { nodeName: 'node-0' });
    scratch.push(performance.now() - t);
  }
  const heapLocal = heapMB();

  const change: number[] = [];
  for (let i = 0; i < rounds * 5; i++) {
    const s = (i * 7919) % n;
    t = performance.now();
    const { delta } = cluster.upsert(syntheticSlice(s, endpoints, 100, i + 1));
    const next = updateLocalState(state, cluster, delta, { nodeName: 'node-0' });
    const changes = localChanges(state, next);
    change.push(performance.now() - t);
    if (changes.servicePorts.size !== 1) throw new Error(`expected one changed service port, got ${changes.servicePorts.size}`);
    state = next;
  }
  rows.push({
    services: n,
    endpoints: n * endpoints,
    'ingest ms': +ingestMs.toFixed(1),
    'from scratch ms (median)': +median(scratch).toFixed(1),
    'one endpoint change ms (median)': +median(change).toFixed(2),
    'one endpoint change ms (max)': +Math.max(...change).toFixed(2),
    'cluster heap MB': +(heapCluster - heap0).toFixed(1),
    'local state heap MB': +(heapLocal - heapCluster).toFixed(1),
  });
}
console.log(`bench:model — node-local state, ${endpoints} endpoints per Service, node ${process.version}${gc ? '' : ' (run with --expose-gc for exact heap figures)'}`);
console.table(rows);
