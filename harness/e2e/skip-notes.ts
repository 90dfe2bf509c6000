// Why a spec is skipped on a backend × family, from e2e/skips.yaml: for the parity report,
// and for the lab, which leaves out its specs that follow a skipped upstream spec.
import type { Backend, IpFamily } from '../config/index.ts';
import { isIpFamily } from '../config/index.ts';
import type { SkipNoteFor } from '../report/index.ts';
import { matchTarget } from './specs.ts';
import { appliesTo, type SuiteEntry, type SuiteRun, type Suites } from './suites.ts';

/** The skip entry that leaves the spec of this full text out of a run of `backend` × `family` (in the e2e runs or the lab), or undefined. */
export type SkipEntryFor = (spec: string, backend: Backend, family: IpFamily) => SuiteEntry | undefined;

export function skipEntryFinder(suites: Suites, run: SuiteRun = 'e2e'): SkipEntryFor {
  const compiled = suites.skip.map((entry) => ({ entry, regex: new RegExp(entry.pattern) }));
  return (spec, backend, family) => {
    const target = matchTarget({ text: spec });
    return compiled.find(({ entry, regex }) => appliesTo(entry, backend, family, run) && regex.test(target))?.entry;
  };
}

export function skipNotesFrom(suites: Suites, run: SuiteRun = 'e2e'): SkipNoteFor {
  const skipEntryFor = skipEntryFinder(suites, run);
  return (spec, { backend, family }) => {
    if (!isIpFamily(family)) return undefined;
    const hit = skipEntryFor(spec, backend, family);
    if (hit === undefined) return undefined;
    return { reason: `e2e/skips.yaml: ${hit.reason}`, ...(hit.link ? { link: hit.link } : {}) };
  };
}
