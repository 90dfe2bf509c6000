// Shared wording of the parity report: symbols, durations, titles.
import type { ParityCell, ParityMatrix } from './matrix.ts';

export const SYMBOL = { passed: '✅', failed: '❌', skipped: '⏭️', absent: '·' } as const;

export function cellSymbol(cell: ParityCell | undefined): string {
  return cell === undefined ? SYMBOL.absent : SYMBOL[cell.status];
}

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function defaultTitle(matrix: ParityMatrix): string {
  const backends = new Set(matrix.columns.map((c) => c.backend)).size;
  const families = new Set(matrix.columns.map((c) => c.family)).size;
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  return `Upstream e2e parity: ${count(backends, 'backend', 'backends')} × ${count(families, 'IP family', 'IP families')}`;
}

/** The sections a report shows, in order: name and which rows. */
export function sections(matrix: ParityMatrix) {
  return [
    { id: 'differs', heading: 'Pass on some, fail on others', rows: matrix.rows.filter((r) => r.differs) },
    { id: 'failing', heading: 'Fail wherever they ran', rows: matrix.rows.filter((r) => r.failing && !r.differs) },
  ] as const;
}
