// The parity matrix as one self-contained HTML page (inline style and script, nothing
// fetched), from templates/parity.html.hbs. Handlebars escapes every value.
import Handlebars from 'handlebars';
import { readFileSync } from 'node:fs';
import { cellSymbol, defaultTitle, duration } from './format.ts';
import type { ParityCell, ParityMatrix } from './matrix.ts';

export interface HtmlOptions {
  title?: string;
  subtitle?: string;
  /** Shown as "generated …" (default: now, ISO 8601). */
  generatedAt?: Date;
}

let compiled: Handlebars.TemplateDelegate | undefined;

function template(): Handlebars.TemplateDelegate {
  compiled ??= Handlebars.create().compile(readFileSync(new URL('./templates/parity.html.hbs', import.meta.url), 'utf8'), { strict: true });
  return compiled;
}

function tip(cell: ParityCell | undefined): string {
  if (cell === undefined) return "not in this run's report";
  const head = `${cell.detail}${cell.time > 0 ? ` in ${duration(cell.time)}` : ''}`;
  const why = cell.skipNote ? cell.skipNote.reason : cell.message;
  return why ? `${head}: ${why}` : head;
}

export function parityHtml(matrix: ParityMatrix, options: HtmlOptions = {}): string {
  const view = {
    title: options.title ?? defaultTitle(matrix),
    subtitle: options.subtitle ?? '',
    generatedAt: (options.generatedAt ?? new Date()).toISOString(),
    columns: matrix.columns.map((c) => ({ ...c, time: duration(c.time) })),
    setupFailures: matrix.columns.flatMap((c) => c.setupFailures.map((f) => ({ label: c.label, name: f.name, message: f.message ?? '' }))),
    counts: { all: matrix.rows.length, differs: matrix.rows.filter((r) => r.differs).length, failing: matrix.rows.filter((r) => r.failing).length },
    rows: matrix.rows.map((row) => ({
      spec: row.spec,
      differs: row.differs,
      failing: row.failing,
      cells: row.cells.map((cell) => ({ status: cell?.status ?? 'absent', symbol: cellSymbol(cell), tip: tip(cell), link: cell?.skipNote?.link ?? '' })),
    })),
    skippedEverywhere: matrix.skippedEverywhere,
  };
  return template()(view);
}
