// The benchmark's headline figures per backend and size, as a Markdown table: start (setup
// and the first full sync into an empty node) until the rules or maps are filled, then one
// endpoint change until the kernel has it, p50/p99 over the rounds measured.

export interface StartAndChange {
  backend: string;
  services: number;
  /** The backend's setup (programs loaded and attached, tools probed). */
  setupMs: number;
  /** The first full sync; a string says why there is none ("killed after 900 s"). */
  firstSyncMs: number | string;
  /** Every partial sync after one endpoint change, in the order run. */
  changeMs: number[];
  peakRssMiB: number;
}

/** The nearest-rank percentile (p in 0–100) of `xs`; undefined for none. */
export function percentile(xs: readonly number[], p: number): number | undefined {
  if (xs.length === 0) return undefined;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

const thousands = (n: number) => n.toLocaleString('en-US');

/** Milliseconds as a reader wants them: seconds from 10 s, whole ms from 100 ms, else one decimal. */
export function duration(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

/** One Markdown table, one row per backend and size, in the order given. */
export function startAndChangeTable(rows: readonly StartAndChange[]): string {
  const out = [
    '| backend | Services | setup | start → filled (setup + first full sync) | one endpoint change p50 | p99 | rounds | peak RSS |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const start = typeof r.firstSyncMs === 'number' ? duration(r.setupMs + r.firstSyncMs) : r.firstSyncMs;
    const p50 = percentile(r.changeMs, 50);
    const p99 = percentile(r.changeMs, 99);
    const cell = (x: number | undefined) => (x === undefined ? '—' : duration(x));
    out.push(`| ${r.backend} | ${thousands(r.services)} | ${duration(r.setupMs)} | ${start} | ${cell(p50)} | ${cell(p99)} | ${r.changeMs.length} | ${Math.round(r.peakRssMiB)} MiB |`);
  }
  return `${out.join('\n')}\n`;
}
