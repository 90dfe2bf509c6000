// One benchmark run of one backend at one size, in a scratch network namespace with the
// real kernel tools: the backend's setup and a full sync into an empty namespace (a first
// start), partial syncs after one endpoint change each (BENCH_ROUNDS, default 5), a full sync over the rules in place (a periodic
// resync, or the one after a failure), then two periodic tamper checks. Every tool call
// goes through a timing Runner, so the figures split the same way for every backend:
//   apply: calls that applied an input (iptables-restore, nft -f), with its size;
//   read:  the others (iptables-save, tamper checks' reads and checks), summed over calls that may overlap;
//   render: the rest of the wall time (the backend's own work), when calls do not overlap.
// A kernel tool call that takes longer than BENCH_TOOL_TIMEOUT seconds (default 900) is
// killed: its sync is reported as not finished, and that run ends there.
import { localChanges, computeLocalState, nodeView, viewChanges, type LocalState, type ViewChanges } from '../../model/index.ts';
import { createLogger } from '../../runtime/log.ts';
import type { Backend } from '../backend.ts';
import type { Runner } from '../common/index.ts';
import { clusterOfObjects, nodeName, scaleObjects } from '../common/testing.ts';
import { appliesRules, benchNode, leftOutOfBench, subjects } from './subjects.ts';
import type { StartAndChange } from './summary.ts';
import { errorText } from '../../errors.ts';

export const endpointsPerService = 10;
/** Partial syncs measured per size, each after a different Service's endpoint change. */
export const partialRounds = Number(process.env.BENCH_ROUNDS ?? 5);
const toolTimeoutMs = Number(process.env.BENCH_TOOL_TIMEOUT ?? 900) * 1000;

export interface Row {
  backend: string;
  services: number;
  sync: string;
  /** A number, or why there is none ("killed after 900 s"). */
  'total ms': number | string;
  'render ms': number;
  'apply ms': number;
  'read ms': number;
  'input KiB': number;
  'input lines': number;
  /** The process with the cluster's local state computed, before the backend. */
  'RSS before MiB': number;
  'peak RSS MiB': number;
}

interface Timed {
  applyMs: number;
  readMs: number;
  bytes: number;
  lines: number;
}

/** A Runner that times what `run` does and keeps the totals since the last take(). */
function timingRunner(run: Runner): { run: Runner; take: () => Timed } {
  let t: Timed = { applyMs: 0, readMs: 0, bytes: 0, lines: 0 };
  return {
    run: async (file, args, opts) => {
      const applies = appliesRules(args, opts);
      const counted = { bytes: 0, lines: 0 };
      const count = (text: string) => {
        counted.bytes += Buffer.byteLength(text);
        for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) counted.lines++;
      };
      // Chunks are counted as the tool takes them (they are made once).
      const chunks = opts?.inputChunks;
      const counting = chunks && applies ? { inputChunks: (function* () { for (const c of chunks) { count(c); yield c; } })() } : {};
      const started = performance.now();
      try {
        return await run(file, args, { ...opts, ...counting, timeoutMs: opts?.timeoutMs ?? toolTimeoutMs });
      } finally {
        const ms = performance.now() - started;
        if (!applies) t.readMs += ms;
        else {
          if (opts?.input !== undefined) {
            count(opts.input);
            if (opts.input !== '' && !opts.input.endsWith('\n')) counted.lines++;
          }
          t.applyMs += ms;
          t.bytes += counted.bytes;
          t.lines += counted.lines;
        }
      }
    },
    take: () => {
      const out = t;
      t = { applyMs: 0, readMs: 0, bytes: 0, lines: 0 };
      return out;
    },
  };
}

/** The scale cluster with one more endpoint on Service `s`. */
function withExtraEndpoint(objects: unknown[], s: number, round: number): unknown[] {
  return objects.map((o) => {
    const meta = (o as { kind?: string; metadata?: { name?: string } }).metadata;
    if ((o as { kind?: string }).kind !== 'EndpointSlice' || meta?.name !== `svc-${s}`) return o;
    const sl = o as { endpoints: unknown[] };
    return { ...sl, endpoints: [...sl.endpoints, { addresses: [`10.${250 + (round >> 8)}.${round & 255}.${s & 255}`], conditions: {} }] };
  });
}

/** The round of median total time. */
const medianRound = <T extends { totalMs: number }>(rounds: T[]): T => [...rounds].sort((a, b) => a.totalMs - b.totalMs)[Math.floor(rounds.length / 2)]!;
const round1 = (x: number) => Math.round(x * 10) / 10;

export interface Measurement {
  rows: Row[];
  summary: StartAndChange;
}

/** Runs the scenario for one backend and one size, here; rows with this process's peak RSS. */
export async function measure(subjectName: string, services: number): Promise<Measurement> {
  const subject = subjects[subjectName];
  const refused = leftOutOfBench[subjectName];
  if (refused !== undefined) throw new Error(errorText('KPNG_ERR_BENCH_BACKEND', `${subjectName} cannot be benchmarked here: ${refused}`));
  if (!subject) throw new Error(errorText('KPNG_ERR_BENCH_BACKEND', `no benchmark entry ${JSON.stringify(subjectName)} (accepted: ${Object.keys(subjects).join(', ')})`));
  const objects = scaleObjects(services, endpointsPerService);
  const state = (objs: unknown[]) => computeLocalState(clusterOfObjects(objs), { nodeName });
  const s0 = state(objects);
  const rssBefore = round1(process.memoryUsage().rss / 2 ** 20);

  const { topology, node, run } = await benchNode(subject, 'bench');
  try {
    const timing = timingRunner(run);
    const backend: Backend = subject.create(timing.run, createLogger({ level: 'warn' }), node);
    const setupStarted = performance.now();
    await backend.setup();
    const setupMs = performance.now() - setupStarted;
    timing.take();

    const sync = async (s: LocalState, changes: ViewChanges | undefined) => {
      const started = performance.now();
      await backend.sync(nodeView(s), changes);
      const totalMs = performance.now() - started;
      const t = timing.take();
      if (!changes || partialRounds <= 10) process.stderr.write(`  ${changes ? 'partial' : 'full'} sync: ${Math.round(totalMs)} ms\n`);
      return { totalMs, renderMs: totalMs - t.applyMs - t.readMs, ...t };
    };
    type Measured = Awaited<ReturnType<typeof sync>>;
    const row = (kind: string, r: Measured): Omit<Row, 'RSS before MiB' | 'peak RSS MiB'> => ({
      backend: subject.name,
      services,
      sync: kind,
      'total ms': round1(r.totalMs),
      'render ms': round1(r.renderMs),
      'apply ms': round1(r.applyMs),
      'read ms': round1(r.readMs),
      'input KiB': round1(r.bytes / 1024),
      'input lines': r.lines,
    });

    const rows: Omit<Row, 'RSS before MiB' | 'peak RSS MiB'>[] = [];
    let firstSyncMs: number | string = 'not run';
    const partials: Measured[] = [];
    const finish = (): Measurement => {
      const rss = round1(process.resourceUsage().maxRSS / 1024);
      return {
        rows: rows.map((r) => ({ ...r, 'RSS before MiB': rssBefore, 'peak RSS MiB': rss })),
        summary: { backend: subject.name, services, setupMs, firstSyncMs, changeMs: partials.map((p) => p.totalMs), peakRssMiB: rss },
      };
    };
    /** A sync, or the row that says it did not finish. */
    const attempt = async (kind: string, s: LocalState, changes: ViewChanges | undefined): Promise<Measured | undefined> => {
      const started = performance.now();
      try {
        return await sync(s, changes);
      } catch (error) {
        const t = timing.take();
        if (t.applyMs + t.readMs < toolTimeoutMs) throw error;
        process.stderr.write(`  ${kind}: a kernel tool call was killed after ${toolTimeoutMs / 1000} s\n`);
        rows.push({ ...row(kind, { totalMs: 0, renderMs: 0, ...t }), 'total ms': `killed after ${Math.round((performance.now() - started) / 1000)} s`, 'render ms': 0 });
        return undefined;
      }
    };

    const first = await attempt('full, empty node', s0, undefined);
    if (!first) {
      firstSyncMs = String(rows.at(-1)?.['total ms']);
      return finish();
    }
    firstSyncMs = first.totalMs;
    rows.push(row('full, empty node', first));
    let prev = s0;
    let current = objects;
    for (let i = 0; i < partialRounds; i++) {
      current = withExtraEndpoint(current, (i * 7919) % services, i);
      const next = state(current);
      // As the runtime hands it: the view of each state, and what differs between them.
      const changes = viewChanges(nodeView(prev), nodeView(next), localChanges(prev, next).servicePorts);
      if (changes.servicePorts.size !== 1) throw new Error(`expected one changed service port, got ${changes.servicePorts.size}`);
      const partial = await attempt('partial, 1 endpoint', next, changes);
      if (!partial) return finish();
      partials.push(partial);
      prev = next;
    }
    // The round of median total time, with its own figures (so that they add up).
    rows.push(row(`partial, 1 endpoint (median of ${partialRounds})`, medianRound(partials)));
    const last = await attempt('full, rules in place', prev, undefined);
    if (last) rows.push(row('full, rules in place', last));
    if (last && backend.tampered) {
      // The periodic check for someone else's changes; the first one after a full sync may
      // also take baselines, so the second is the steady figure.
      for (const kind of ['tamper check (first)', 'tamper check']) {
        const started = performance.now();
        const tampered = await backend.tampered();
        const totalMs = performance.now() - started;
        if (tampered) throw new Error('the tamper check found changes nobody made');
        const t = timing.take();
        process.stderr.write(`  ${kind}: ${Math.round(totalMs)} ms\n`);
        rows.push(row(kind, { totalMs, renderMs: totalMs - t.applyMs - t.readMs, ...t }));
      }
    }
    return finish();
  } finally {
    await topology.destroy();
  }
}
