// npm run bench:ebpf-maps — a benchmark, not a test: N Services (BENCH_SERVICES, default 10000)
// × 10 endpoints, NodePort every tenth, through the eBPF backend into real pinned maps:
// start (load, attach, first full sync) until the maps are filled, then one Service's
// endpoints changed per round: sync time p50/p99 and the map operations written. The
// programs attach to an empty cgroup of the benchmark's own, so no process is affected;
// the nft table for traffic from other hosts goes into the benchmark's own namespace.
// Needs root, bpftool, and the program built (hack/build-bpf.sh).
import { nodeView, type LocalState } from '../../model/index.ts';
import { errorText } from '../../errors.ts';
import { memoryLogger } from '../../runtime/log.ts';
import { fixtureState, scaleObjects } from '../common/testing.ts';
import { changesBetween, slice } from '../../model/testing.ts';
import { netnsRunner } from '../common/index.ts';
import { EbpfBackend } from './backend.ts';
import { SockLab, builtObject } from './sock-lab.testkit.ts';

const services = Number(process.env.BENCH_SERVICES ?? 10000);
const endpoints = 10;
const rounds = Number(process.env.BENCH_ROUNDS ?? 100);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (x: number) => Number(x.toFixed(1));

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write(`${errorText('KPNG_ERR_BENCH_ROOT', 'the benchmark loads eBPF programs into a cgroup of its own: run it as root')}\n`);
    return 2;
  }
  const object = builtObject();
  const lab = new SockLab();
  try {
    await lab.create([]);
    const objects = scaleObjects(services, endpoints);
    const state: LocalState = fixtureState(objects);
    const backend = new EbpfBackend({ logger: memoryLogger(), netRunner: netnsRunner(lab.ns), cgroupPath: lab.cgroup, pinPath: lab.pinPath, objectPath: object, families: ['IPv4'] });
    const t0 = performance.now();
    await backend.setup();
    const t1 = performance.now();
    const first = await backend.sync(nodeView(state), undefined);
    const t2 = performance.now();
    const times: number[] = [];
    const opCounts: number[] = [];
    const nftCounts: number[] = [];
    let prev = state;
    for (let r = 0; r < rounds; r++) {
      // Service r gets one endpoint replaced.
      const i = (r * 7919) % services;
      const changed = objects.map((o) => {
        if ((o as { kind?: string; metadata?: { name?: string } }).kind !== 'EndpointSlice' || (o as { metadata: { name: string } }).metadata.name !== `svc-${i}`) return o;
        const eps = Array.from({ length: endpoints }, (_, j) => (j === 0 ? `10.200.${(r >> 8) & 255}.${r & 255}` : `10.${64 + ((i * endpoints + j) >> 16)}.${((i * endpoints + j) >> 8) & 255}.${(i * endpoints + j) & 255}`));
        return slice(`svc-${i}`, `svc-${i}`, eps, { namespace: 'scale', ports: [{ name: 'http', port: 8080 }] });
      });
      const next = fixtureState(changed);
      const view = nodeView(next);
      const changes = changesBetween(prev, next);
      const s = performance.now();
      const stats = await backend.sync(view, changes);
      times.push(performance.now() - s);
      opCounts.push(stats.ops);
      nftCounts.push(stats.nftLines);
      prev = next;
    }
    const counts = backend['planner'].counts();
    await backend.cleanup();
    console.log(`bench:ebpf: ${services} Services × ${endpoints} endpoints (NodePort every tenth), IPv4, one node, node ${process.version}; maps written through bpftool batch, table inet kpng-ebpf through nft -f`);
    console.table([
      {
        services,
        'load+attach ms': ms(t1 - t0),
        'first full sync ms': ms(t2 - t1),
        'start → maps filled ms': ms(t2 - t0),
        'entries written': first.ops,
        'svc4 entries': counts.kpng_svc4,
        'be entries': counts.kpng_be,
        'one change p50 ms': ms(pct(times, 50)),
        'one change p99 ms': ms(pct(times, 99)),
        'ops per change': `${Math.min(...opCounts)}-${Math.max(...opCounts)}`,
        'nft lines (first)': first.nftLines,
        'nft lines per change': `${Math.min(...nftCounts)}-${Math.max(...nftCounts)}`,
        rounds,
      },
    ]);
    return 0;
  } finally {
    lab.destroy();
  }
}

process.exitCode = await main();
