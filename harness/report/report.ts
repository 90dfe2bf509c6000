// parityReport: runs in, matrix + markdown + HTML out. readParityRuns finds runs in a
// results folder laid out as <dir>/<family>-<backend>/junit*.xml (what `kpng-harness e2e`
// writes, and what CI's artifacts unpack to); writeParityReport writes the two pages and
// adds the markdown to the CI job summary.
import { appendFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KpngError, KUBE_PROXY_BACKEND, ipFamilies } from '../config/index.ts';
import { parityHtml } from './html.ts';
import { parityMarkdown } from './markdown.ts';
import { buildParityMatrix, type ParityMatrix, type ParityRun, type SkipNoteFor } from './matrix.ts';

export interface ParityReportOptions {
  title?: string;
  subtitle?: string;
  generatedAt?: Date;
  /** Why a skipped spec was skipped on a run (shown on hover and linked in the HTML). */
  skipNote?: SkipNoteFor;
}

export interface ParityReport {
  matrix: ParityMatrix;
  markdown: string;
  html: string;
}

export function parityReport(runs: readonly ParityRun[], options: ParityReportOptions = {}): ParityReport {
  const matrix = buildParityMatrix(runs, options.skipNote);
  const text = { ...(options.title ? { title: options.title } : {}), ...(options.subtitle ? { subtitle: options.subtitle } : {}) };
  return {
    matrix,
    markdown: parityMarkdown(matrix, text),
    html: parityHtml(matrix, { ...text, ...(options.generatedAt ? { generatedAt: options.generatedAt } : {}) }),
  };
}

const RUN_DIR = new RegExp(`^(${ipFamilies.join('|')})-(.+)$`);

/** The runs under `dir`: one per <family>-<backend> folder holding junit*.xml. Folders without JUnit are listed in `empty`. */
export async function readParityRuns(dir: string): Promise<{ runs: ParityRun[]; empty: string[] }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new KpngError('KPNG_ERR_REPORT', `cannot read the results folder ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const runs: ParityRun[] = [];
  const empty: string[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const match = RUN_DIR.exec(entry.name);
    if (!match) continue;
    const folder = path.join(dir, entry.name);
    const files = (await readdir(folder)).filter((f) => /^junit.*\.xml$/.test(f)).sort();
    if (files.length === 0) {
      empty.push(folder);
      continue;
    }
    const paths = files.map((f) => path.join(folder, f));
    runs.push({ family: match[1] ?? '', backend: match[2] ?? '', junit: await Promise.all(paths.map((p) => readFile(p, 'utf8'))), files: paths });
  }
  // The reference first: kube-proxy's columns, then the kpng backends, each by family.
  runs.sort((a, b) => Number(b.backend === KUBE_PROXY_BACKEND) - Number(a.backend === KUBE_PROXY_BACKEND));
  if (runs.length === 0) {
    throw new KpngError(
      'KPNG_ERR_REPORT',
      `no JUnit found under ${dir}; expected <family>-<backend>/junit*.xml folders (family: ${ipFamilies.join(', ')})${empty.length ? `; these have none: ${empty.join(', ')}` : ''}`,
    );
  }
  return { runs, empty };
}

export interface WrittenReport {
  markdownFile: string;
  htmlFile: string;
  /** The CI job summary the markdown was appended to, if any. */
  summaryFile?: string;
}

/** Write parity.md and parity.html into `dir`; append the markdown to `summaryFile` (e.g. $GITHUB_STEP_SUMMARY) when given. */
export async function writeParityReport(report: ParityReport, options: { dir: string; summaryFile?: string }): Promise<WrittenReport> {
  await mkdir(options.dir, { recursive: true });
  const markdownFile = path.join(options.dir, 'parity.md');
  const htmlFile = path.join(options.dir, 'parity.html');
  await writeFile(markdownFile, report.markdown, 'utf8');
  await writeFile(htmlFile, report.html, 'utf8');
  if (options.summaryFile) {
    await appendFile(options.summaryFile, `${report.markdown}\n`, 'utf8');
    return { markdownFile, htmlFile, summaryFile: options.summaryFile };
  }
  return { markdownFile, htmlFile };
}
