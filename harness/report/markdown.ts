// The parity matrix as GitHub-flavoured markdown: for the terminal and $GITHUB_STEP_SUMMARY.
import { SYMBOL, cellSymbol, defaultTitle, duration, sections } from './format.ts';
import type { ParityMatrix, ParityRow } from './matrix.ts';

export interface MarkdownOptions {
  title?: string;
  /** Shown under the title (e.g. the Kubernetes version and the time of the run). */
  subtitle?: string;
}

/** A table cell: no pipes or line breaks, no HTML. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/\s*\n\s*/g, ' ');
}

function table(header: string[], rows: string[][], align: string[]): string {
  return [`| ${header.join(' | ')} |`, `|${align.join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function specTable(matrix: ParityMatrix, rows: readonly ParityRow[]): string {
  return table(
    ['spec', ...matrix.columns.map((c) => cell(c.label))],
    rows.map((row) => [cell(row.spec), ...row.cells.map(cellSymbol)]),
    ['---', ...matrix.columns.map(() => ':---:')],
  );
}

export function parityMarkdown(matrix: ParityMatrix, options: MarkdownOptions = {}): string {
  const out: string[] = [`## ${cell(options.title ?? defaultTitle(matrix))}`, ''];
  if (options.subtitle) out.push(cell(options.subtitle), '');
  const labels = matrix.columns.map((c) => cell(c.label));
  out.push(
    table(
      ['', ...labels],
      [
        [`${SYMBOL.passed} passed`, ...matrix.columns.map((c) => String(c.passed))],
        [`${SYMBOL.failed} failed`, ...matrix.columns.map((c) => String(c.failed))],
        [`${SYMBOL.skipped} skipped`, ...matrix.columns.map((c) => String(c.skipped))],
        ['time of the specs, summed', ...matrix.columns.map((c) => duration(c.time))],
      ],
      ['---', ...labels.map(() => '---:')],
    ),
    '',
  );
  for (const column of matrix.columns) {
    for (const failure of column.setupFailures) {
      out.push(`> ${SYMBOL.failed} **${cell(column.label)}**: suite node ${cell(failure.name)} failed${failure.message ? `: ${cell(failure.message)}` : ''}`, '');
    }
  }
  for (const section of sections(matrix)) {
    if (section.rows.length === 0) continue;
    out.push(`### ${SYMBOL.failed} ${section.heading} (${section.rows.length})`, '', specTable(matrix, section.rows), '');
  }
  const ran = matrix.rows.length;
  out.push(
    `<details><summary>All ${ran} spec${ran === 1 ? '' : 's'} that ran somewhere (${matrix.skippedEverywhere} skipped everywhere are not listed)</summary>`,
    '',
    ran > 0 ? specTable(matrix, matrix.rows) : '_none_',
    '',
    '</details>',
    '',
    `${SYMBOL.passed} passed · ${SYMBOL.failed} failed · ${SYMBOL.skipped} skipped · ${SYMBOL.absent} not in that run's report`,
    '',
  );
  return out.join('\n');
}
