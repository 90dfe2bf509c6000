// The table of `npm run bench:vs-kube-proxy`: per mode, Service count and figure, the
// median over rounds of upstream kube-proxy (default min-sync, and min-sync 0 for change
// latency) and of kpng, and the kpng / kube-proxy ratio. Pure: results in, rows out.
import { quantile } from './api-client.ts';

export const comparedSubjects = ['kube-proxy', 'kube-proxy min-sync 0', 'kpng'] as const;
export type ComparedSubject = (typeof comparedSubjects)[number];

/** One proxy's run: started on a fresh node, all Services in, then `changeMs.length` endpoint changes. */
export interface RunResult {
  subject: ComparedSubject;
  mode: string;
  services: number;
  /** Process start → first complete sync in the kernel, ms; undefined when not within the cap. */
  startMs: number | undefined;
  /** That first sync alone, as the proxy's own kubeproxy_sync_full_proxy_rules_duration_seconds measured it, ms; undefined when not read. */
  firstSyncMs: number | undefined;
  /** Per endpoint change: API write → the new endpoint in the kernel's rules, ms. */
  changeMs: number[];
  /** CPU seconds of the proxy and the kernel tools it ran (user + system). */
  cpuSeconds: number;
  /** Peak resident set size of the proxy process, MiB. */
  peakRssMiB: number;
  /** Lines of iptables-save (nat + filter) or nft list ruleset after the run. */
  rulesetLines: number;
}

export interface ComparisonRow {
  mode: string;
  services: number;
  figure: string;
  'kube-proxy': string;
  'kube-proxy min-sync 0': string;
  kpng: string;
  'kpng / kube-proxy': string;
}

interface Figure {
  name: string;
  /** The figure of one run; undefined when the run did not get that far. */
  of(r: RunResult): number | undefined;
  format(x: number): string;
  /** Change latency: compared with kube-proxy at min-sync 0, kpng's own default. */
  vsMinSyncZero?: boolean;
  /** What a run that went without the figure shows (default: it did not finish within the cap). */
  missing?: string;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const millis = (ms: number) => (ms >= 10_000 ? seconds(ms) : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);

export const figures: readonly Figure[] = [
  { name: 'start → all rules in kernel', of: (r) => r.startMs, format: seconds },
  { name: '  of it: the first sync (own metric)', of: (r) => r.firstSyncMs, format: seconds, missing: 'not read' },
  { name: 'endpoint change → rule in kernel, p50', of: (r) => (r.changeMs.length > 0 ? quantile(r.changeMs, 0.5) : undefined), format: millis, vsMinSyncZero: true },
  { name: 'endpoint change → rule in kernel, p99', of: (r) => (r.changeMs.length > 0 ? quantile(r.changeMs, 0.99) : undefined), format: millis, vsMinSyncZero: true },
  { name: 'CPU seconds', of: (r) => r.cpuSeconds, format: (x) => `${x.toFixed(2)} s` },
  { name: 'peak RSS', of: (r) => r.peakRssMiB, format: (x) => `${x.toFixed(0)} MiB` },
  { name: 'ruleset lines', of: (r) => r.rulesetLines, format: (x) => x.toFixed(0) },
];

/** The median over rounds of one figure for one subject; undefined when no round has it. */
function medianOf(runs: readonly RunResult[], figure: Figure): number | undefined {
  const xs = runs.map((r) => figure.of(r)).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length === 0 ? undefined : quantile(xs, 0.5);
}

/** Rows in the order modes and sizes first appear in `results`, figures in their fixed order. */
export function comparisonRows(results: readonly RunResult[]): ComparisonRow[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const key = `${r.mode}\u0000${r.services}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows: ComparisonRow[] = [];
  for (const runs of groups.values()) {
    const { mode, services } = runs[0]!;
    for (const figure of figures) {
      const value = (subject: ComparedSubject) => medianOf(runs.filter((r) => r.subject === subject), figure);
      const shown = (x: number | undefined, ran: boolean) => (x !== undefined ? figure.format(x) : ran ? (figure.missing ?? 'not finished') : '—');
      const ran = (subject: ComparedSubject) => runs.some((r) => r.subject === subject);
      const kpng = value('kpng');
      const anchor = figure.vsMinSyncZero && ran('kube-proxy min-sync 0') ? value('kube-proxy min-sync 0') : value('kube-proxy');
      rows.push({
        mode,
        services,
        figure: figure.name,
        'kube-proxy': shown(value('kube-proxy'), ran('kube-proxy')),
        'kube-proxy min-sync 0': figure.vsMinSyncZero ? shown(value('kube-proxy min-sync 0'), ran('kube-proxy min-sync 0')) : '',
        kpng: shown(kpng, ran('kpng')),
        'kpng / kube-proxy': kpng !== undefined && anchor !== undefined && anchor > 0 ? (kpng / anchor).toFixed(2) : '—',
      });
    }
  }
  return rows;
}

/** The rows as a markdown table (the README's benchmark section shows it). */
export function markdownTable(rows: readonly ComparisonRow[]): string {
  const head: (keyof ComparisonRow)[] = ['mode', 'services', 'figure', 'kube-proxy', 'kube-proxy min-sync 0', 'kpng', 'kpng / kube-proxy'];
  const right = new Set<keyof ComparisonRow>(['services', 'kube-proxy', 'kube-proxy min-sync 0', 'kpng', 'kpng / kube-proxy']);
  const cell = (x: string | number) => String(x).replaceAll('|', '\\|');
  const lines = [
    `| ${head.join(' | ')} |`,
    `|${head.map((h) => (right.has(h) ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${head.map((h) => cell(h === 'services' ? r.services.toLocaleString('en-US') : r[h])).join(' | ')} |`),
  ];
  return `${lines.join('\n')}\n`;
}
