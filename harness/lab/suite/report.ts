// The parity matrix of lab runs: JUnit in, markdown and one HTML page out. The runs have
// the shape harness/report's ParityRun has ({ backend, family, junit }) and the files
// the same names (parity.md, parity.html), so that report module can take this one's
// place without changes elsewhere. This one reads only the JUnit the lab writes.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { escapeXml } from './junit.ts';

export interface LabParityRun {
  backend: string;
  family: string;
  junit: string | readonly string[];
}

export type CellStatus = 'passed' | 'failed' | 'skipped';

export interface LabCase {
  name: string;
  status: CellStatus;
  message?: string;
}

const unescape = (text: string) =>
  text.replace(/&(lt|gt|amp|quot|apos|#(\d+));/g, (_, name: string, code: string | undefined) =>
    code ? String.fromCharCode(Number(code)) : ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[name] ?? '',
  );

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1] ?? ''] = unescape(m[2] ?? '');
  return out;
}

/** The test cases of a JUnit text as the lab writes it (status attribute, failure/skipped message). */
export function readLabJUnit(xml: string): LabCase[] {
  const cases: LabCase[] = [];
  for (const m of xml.matchAll(/<testcase\b([^>]*)>([\s\S]*?)<\/testcase>|<testcase\b([^>]*)\/>/g)) {
    const attrs = attributes(m[1] ?? m[3] ?? '');
    const body = m[2] ?? '';
    const failure = /<failure\b([^>]*)>([\s\S]*?)<\/failure>/.exec(body);
    const skipped = /<skipped\b([^>]*)/.exec(body);
    const status: CellStatus = failure || attrs.status === 'failed' ? 'failed' : skipped || attrs.status === 'skipped' ? 'skipped' : 'passed';
    const message = failure ? unescape(failure[2] ?? '') || attributes(failure[1] ?? '').message : skipped ? attributes(skipped[1] ?? '').message : undefined;
    cases.push({ name: attrs.name ?? '', status, ...(message ? { message } : {}) });
  }
  return cases;
}

export interface LabMatrix {
  columns: string[];
  rows: { name: string; cells: (LabCase | undefined)[] }[];
  totals: { passed: number; failed: number; skipped: number }[];
}

export function labMatrix(runs: readonly LabParityRun[]): LabMatrix {
  const columns = runs.map((run) => `${run.backend}/${run.family}`);
  const order: string[] = [];
  const byRun = runs.map((run) => {
    const cases = new Map<string, LabCase>();
    for (const text of typeof run.junit === 'string' ? [run.junit] : run.junit) {
      for (const c of readLabJUnit(text)) {
        if (!order.includes(c.name)) order.push(c.name);
        cases.set(c.name, c);
      }
    }
    return cases;
  });
  const rows = order.map((name) => ({ name, cells: byRun.map((cases) => cases.get(name)) }));
  const totals = byRun.map((cases) => {
    const all = [...cases.values()];
    return { passed: all.filter((c) => c.status === 'passed').length, failed: all.filter((c) => c.status === 'failed').length, skipped: all.filter((c) => c.status === 'skipped').length };
  });
  return { columns, rows, totals };
}

const MARK: Record<CellStatus, string> = { passed: '✅', failed: '❌', skipped: '➖' };

export function labMatrixMarkdown(matrix: LabMatrix, title = 'kpng lab: parity matrix'): string {
  const cell = (c: LabCase | undefined) => (c ? MARK[c.status] : ' ');
  const lines = [
    `## ${title}`,
    '',
    `| spec | ${matrix.columns.join(' | ')} |`,
    `|---|${matrix.columns.map(() => ':-:').join('|')}|`,
    ...matrix.rows.map((row) => `| ${row.name.replace(/\|/g, '\\|')} | ${row.cells.map(cell).join(' | ')} |`),
    `| **passed / failed / skipped** | ${matrix.totals.map((t) => `${t.passed} / ${t.failed} / ${t.skipped}`).join(' | ')} |`,
    '',
  ];
  const notes = matrix.rows.flatMap((row) => row.cells.flatMap((c, i) => (c && c.status !== 'passed' && c.message ? [`- ${MARK[c.status]} ${matrix.columns[i]}: ${row.name}: ${c.message.split('\n')[0]}`] : [])));
  if (notes.length > 0) lines.push('Failures and skips:', '', ...notes, '');
  return lines.join('\n');
}

export function labMatrixHtml(matrix: LabMatrix, opts: { title?: string; generatedAt?: Date } = {}): string {
  const title = opts.title ?? 'kpng lab: parity matrix';
  const td = (c: LabCase | undefined) =>
    c ? `<td class="${c.status}"${c.message ? ` title="${escapeXml(c.message)}"` : ''}>${MARK[c.status]}</td>` : '<td class="none"></td>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px}
td{text-align:center}td.name{text-align:left}td.failed{background:#fdd}td.skipped{background:#eee}td.passed{background:#dfd}
</style></head><body>
<h1>${escapeXml(title)}</h1>
${opts.generatedAt ? `<p>Generated ${escapeXml(opts.generatedAt.toISOString())}</p>\n` : ''}<table>
<tr><th>spec</th>${matrix.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('')}</tr>
${matrix.rows.map((row) => `<tr><td class="name">${escapeXml(row.name)}</td>${row.cells.map(td).join('')}</tr>`).join('\n')}
<tr><th>passed / failed / skipped</th>${matrix.totals.map((t) => `<th>${t.passed} / ${t.failed} / ${t.skipped}</th>`).join('')}</tr>
</table>
<p>Hover a cell for the failure message or the reason for a skip.</p>
</body></html>
`;
}

export interface LabParityReport {
  markdown: string;
  html: string;
}

export function labParityReport(runs: readonly LabParityRun[], opts: { title?: string; generatedAt?: Date } = {}): LabParityReport {
  const matrix = labMatrix(runs);
  return { markdown: labMatrixMarkdown(matrix, opts.title), html: labMatrixHtml(matrix, opts) };
}

export async function writeLabParityReport(report: LabParityReport, dir: string): Promise<{ markdownFile: string; htmlFile: string }> {
  await mkdir(dir, { recursive: true });
  const markdownFile = path.join(dir, 'parity.md');
  const htmlFile = path.join(dir, 'parity.html');
  await writeFile(markdownFile, report.markdown);
  await writeFile(htmlFile, report.html);
  return { markdownFile, htmlFile };
}
