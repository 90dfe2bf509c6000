// The parity matrix: which upstream spec passed, failed or was skipped on which
// backend/family, built from each run's JUnit. One row per spec that ran somewhere.
import { KpngError } from '../config/index.ts';
import { parseJUnit, type CaseStatus, type JUnitCase } from './junit.ts';

/** One backend × family run and the JUnit it produced (one or more files' text). */
export interface ParityRun {
  backend: string;
  family: string;
  junit: string | readonly string[];
  /** Column heading (default "<backend>/<family>"). */
  label?: string;
  /** Names of the JUnit files, in the order of `junit`, for error messages. */
  files?: readonly string[];
}

export interface SkipNote {
  reason: string;
  link?: string;
}

/** Why a spec was skipped on a run (e.g. from e2e/skips.yaml), for the skipped cells. */
export type SkipNoteFor = (spec: string, run: { backend: string; family: string }) => SkipNote | undefined;

export interface ParityCell {
  status: CaseStatus;
  detail: string;
  time: number;
  message?: string;
  skipNote?: SkipNote;
}

export interface ParityColumn {
  backend: string;
  family: string;
  label: string;
  passed: number;
  failed: number;
  skipped: number;
  /** Seconds, summed over the specs. */
  time: number;
  /** Suite nodes (BeforeSuite, ...) that failed: the run as a whole is broken. */
  setupFailures: { name: string; message?: string }[];
}

export interface ParityRow {
  spec: string;
  /** One per column; undefined when the run did not report the spec at all. */
  cells: (ParityCell | undefined)[];
  /** Passed on at least one column and failed on another. */
  differs: boolean;
  /** Failed on at least one column. */
  failing: boolean;
}

export interface ParityMatrix {
  columns: ParityColumn[];
  rows: ParityRow[];
  /** Specs every run skipped (outside every selection): counted, not listed. */
  skippedEverywhere: number;
}

const rank: Record<CaseStatus, number> = { failed: 3, passed: 2, skipped: 1 };

export function buildParityMatrix(runs: readonly ParityRun[], skipNote?: SkipNoteFor): ParityMatrix {
  if (runs.length === 0) throw new KpngError('KPNG_ERR_REPORT', 'no runs to report on; give at least one backend/family with its JUnit');
  const labels = new Set<string>();
  const perRun = runs.map((run) => {
    const label = run.label ?? `${run.backend}/${run.family}`;
    if (labels.has(label)) throw new KpngError('KPNG_ERR_REPORT', `two runs are labelled ${label}; give each backend/family once`);
    labels.add(label);
    const texts = typeof run.junit === 'string' ? [run.junit] : run.junit;
    const cases = new Map<string, JUnitCase>();
    const setupFailures: ParityColumn['setupFailures'] = [];
    texts.forEach((xml, i) => {
      for (const c of parseJUnit(xml, run.files?.[i] ?? `${label} JUnit #${i + 1}`).cases) {
        if (c.kind === 'setup') {
          if (c.status === 'failed') setupFailures.push({ name: c.name, ...(c.message ? { message: c.message } : {}) });
          continue;
        }
        const seen = cases.get(c.name);
        if (seen === undefined || rank[c.status] > rank[seen.status]) cases.set(c.name, c);
      }
    });
    return { run, label, cases, setupFailures };
  });

  const names = new Set<string>();
  for (const { cases } of perRun) for (const name of cases.keys()) names.add(name);
  const rows: ParityRow[] = [];
  let skippedEverywhere = 0;
  for (const spec of [...names].sort()) {
    const cells = perRun.map(({ run, cases }): ParityCell | undefined => {
      const c = cases.get(spec);
      if (c === undefined) return undefined;
      const note = c.status === 'skipped' ? skipNote?.(spec, { backend: run.backend, family: run.family }) : undefined;
      return { status: c.status, detail: c.detail, time: c.time, ...(c.message ? { message: c.message } : {}), ...(note ? { skipNote: note } : {}) };
    });
    const statuses = new Set(cells.map((c) => c?.status));
    if (!statuses.has('passed') && !statuses.has('failed')) {
      skippedEverywhere++;
      continue;
    }
    rows.push({ spec, cells, differs: statuses.has('passed') && statuses.has('failed'), failing: statuses.has('failed') });
  }

  const columns = perRun.map(({ run, label, cases, setupFailures }): ParityColumn => {
    const column: ParityColumn = { backend: run.backend, family: run.family, label, passed: 0, failed: 0, skipped: 0, time: 0, setupFailures };
    for (const c of cases.values()) {
      column[c.status]++;
      column.time += c.time;
    }
    return column;
  });
  return { columns, rows, skippedEverywhere };
}
