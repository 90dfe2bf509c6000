// npm run bench:lists — the kube source's part of a start, without the network: the list
// bodies of N Services × 10 endpoints (and 2 Nodes) in the shape kube-apiserver serves the
// objects bench:vs-kube-proxy writes (the metadata it adds, managedFields included, and the
// Service defaults), read as the source reads them (parseList, the kind set on each item,
// the cluster state replaced kind by kind), then node n1's local state. Each round starts
// from a fresh cluster state; "first" is a size's first round (the cold one a start pays
// for the first size only: BENCH_SERVICES=10000 for a cold 10,000), the median is of the
// rounds after it; the heap is what the last round's cluster and local state hold. Prints a
// table.
import { randomUUID } from 'node:crypto';
import { ClusterState, computeLocalState } from '../../model/index.ts';
import { parseList } from './client.ts';
import { listedKinds } from './kube-source.ts';
import { adoptReceived } from './reflector.ts';

const sizes = (process.env.BENCH_SERVICES ?? '1000,10000').split(',').map(Number);
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const endpointsPerService = 10;
const time = '2026-01-01T00:00:00Z';
let rv = 1000;

const meta = (name: string, namespace: string | undefined, apiVersion: string, fieldsV1: object, extra: object = {}) => ({
  name,
  ...(namespace && { namespace }),
  uid: randomUUID(),
  resourceVersion: String(++rv),
  ...extra,
  creationTimestamp: time,
  managedFields: [{ manager: 'unknown', operation: 'Update', apiVersion, time, fieldsType: 'FieldsV1', fieldsV1 }],
});

const serviceFields = {
  'f:spec': {
    'f:internalTrafficPolicy': {},
    'f:ports': { '.': {}, 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {}, 'f:protocol': {}, 'f:targetPort': {} } },
    'f:sessionAffinity': {},
    'f:type': {},
  },
};
const sliceFields = { 'f:addressType': {}, 'f:endpoints': {}, 'f:metadata': { 'f:labels': { '.': {}, 'f:kubernetes.io/service-name': {} } }, 'f:ports': {} };
const ip = (n: number, base: number) => `10.${base + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;

function service(s: number) {
  const clusterIP = ip(s, 96);
  return {
    metadata: meta(`svc-${s}`, 'bench', 'v1', serviceFields),
    spec: {
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
      clusterIP,
      clusterIPs: [clusterIP],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
}

function slice(s: number) {
  return {
    metadata: meta(`svc-${s}-1`, 'bench', 'discovery.k8s.io/v1', sliceFields, { generation: 1, labels: { 'kubernetes.io/service-name': `svc-${s}` } }),
    addressType: 'IPv4',
    endpoints: Array.from({ length: endpointsPerService }, (_, e) => ({
      addresses: [ip(s * endpointsPerService + e, 128)],
      conditions: { ready: true },
      nodeName: e % 2 === 0 ? 'n1' : 'n2',
    })),
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  };
}

const node = (name: string, address: string) => ({
  metadata: meta(name, undefined, 'v1', {}),
  spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] },
  status: { addresses: [{ type: 'InternalIP', address }] },
});

/** The three list bodies, in the order the source lists them. */
function bodies(n: number): string[] {
  const items = {
    Service: Array.from({ length: n }, (_, s) => service(s)),
    EndpointSlice: Array.from({ length: n }, (_, s) => slice(s)),
    Node: [node('n1', '192.168.0.1'), node('n2', '192.168.0.2')],
  };
  return listedKinds.map(({ kind, apiVersion }) => JSON.stringify({ kind: `${kind}List`, apiVersion, metadata: { resourceVersion: String(rv) }, items: items[kind] }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const gc = (globalThis as { gc?: () => void }).gc;
const heapMB = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

function once(texts: string[]): { parse: number; ingest: number; local: number; endpoints: number; kept: unknown } {
  let t = performance.now();
  const lists = texts.map(parseList);
  const parse = performance.now() - t;
  t = performance.now();
  const cluster = new ClusterState();
  listedKinds.forEach(({ kind, apiVersion }, i) => cluster.replaceKind(kind, lists[i]!.items.map((o) => adoptReceived(o, kind, apiVersion))));
  const ingest = performance.now() - t;
  t = performance.now();
  const state = computeLocalState(cluster, { nodeName: 'n1' });
  const local = performance.now() - t;
  let endpoints = 0;
  for (const p of state.servicePorts.values()) endpoints += p.clusterEndpoints.length;
  return { parse, ingest, local, endpoints, kept: [cluster, state] };
}

const rows: Record<string, string | number>[] = [];
for (const n of sizes) {
  const texts = bodies(n);
  const runs = Array.from({ length: rounds - 1 }, () => once(texts));
  // The last round's cluster and local state are held while the heap is measured.
  const heap0 = heapMB();
  runs.push(once(texts));
  const heapKept = heapMB() - heap0;
  for (const r of runs) r.kept = undefined;
  if (runs[0]!.endpoints !== n * endpointsPerService) throw new Error(`expected ${n * endpointsPerService} endpoints in the local state, got ${runs[0]!.endpoints}`);
  const warm = runs.slice(1);
  const ms = (k: 'parse' | 'ingest' | 'local') => `${runs[0]![k].toFixed(0)} / ${median(warm.map((r) => r[k])).toFixed(0)}`;
  rows.push({
    services: n,
    'list bytes (MB)': +(texts.reduce((a, t) => a + Buffer.byteLength(t), 0) / 1e6).toFixed(1),
    'parse ms (first / median)': ms('parse'),
    'into the cluster state ms': ms('ingest'),
    'local state ms': ms('local'),
    'cluster + local state heap MB': gc ? +heapKept.toFixed(1) : 'run with --expose-gc',
  });
}
console.log(`bench:lists — the kube source's lists to node n1's local state, ${endpointsPerService} endpoints per Service, ${rounds} rounds, node ${process.version}`);
console.table(rows);
