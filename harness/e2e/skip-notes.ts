// Why a spec was skipped on a backend × family, from e2e/skips.yaml: for the parity report.
import { isIpFamily } from '../config/index.ts';
import type { SkipNoteFor } from '../report/index.ts';
import { matchTarget } from './specs.ts';
import { appliesTo, type Suites } from './suites.ts';

export function skipNotesFrom(suites: Suites): SkipNoteFor {
  const compiled = suites.skip.map((entry) => ({ entry, regex: new RegExp(entry.pattern) }));
  return (spec, run) => {
    const { backend, family } = run;
    if (!isIpFamily(family)) return undefined;
    const target = matchTarget({ text: spec });
    const hit = compiled.find(({ entry, regex }) => appliesTo(entry, backend, family) && regex.test(target));
    if (hit === undefined) return undefined;
    return { reason: `e2e/skips.yaml: ${hit.entry.reason}`, ...(hit.entry.link ? { link: hit.entry.link } : {}) };
  };
}
