// e2e/skips.yaml in the lab: the lab's specs carry the texts of the upstream specs they
// follow, so the skip entries that apply to a backend × family (what the backend cannot
// pass by its nature, with the reason and a link) leave the same specs out of the lab's run
// of it. Entries marked lab: false (what only the kind clusters lack) do not apply here.
import type { Backend, IpFamily } from '../../config/index.ts';
import { skipEntryFinder, type Suites } from '../../e2e/index.ts';
import type { LabSpec } from './spec.ts';

/** Why e2e/skips.yaml leaves `spec` out of this run, or undefined. */
export type SkipReasonFor = (spec: Pick<LabSpec, 'upstream'>) => string | undefined;

export function labSkipsFrom(suites: Suites, backend: Backend, family: IpFamily): SkipReasonFor {
  const find = skipEntryFinder(suites, 'lab');
  return (spec) => {
    const entry = find(spec.upstream, backend, family);
    return entry && `${entry.where}: ${entry.reason}${entry.link ? ` (${entry.link})` : ''}`;
  };
}
