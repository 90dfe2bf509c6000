// harness/e2e: the upstream e2e suite. Obtain e2e.test and ginkgo, read the suites as
// data (e2e/skips.yaml), compose and verify each backend × family's selection against
// the real spec list, and run it on a kind cluster with JUnit results.
export { obtainHint, requireK8sBinaries, type E2eBinary } from './binaries.ts';
export { ginkgoRunCommand, type GinkgoRunOptions, type ProgramCommand } from './ginkgo.ts';
export { netnsGinkgoCommand, runNetnsE2e, type NetnsE2eRunOptions, type NetnsE2eRunResult } from './run-netns.ts';
export { GinkgoProgress, progressRunner, type SpecResult } from './progress.ts';
export { e2eClusterName, e2eRunDir, execaProgramRunner, runE2e, type E2eRunOptions, type E2eRunResult, type ProgramRunner } from './run.ts';
export {
  SelectionError,
  composeSelection,
  narrowSelection,
  patternProblem,
  verifySelection,
  type Selection,
  type VerifiedSelection,
} from './selection.ts';
export { skipEntryFinder, skipNotesFrom, type SkipEntryFor } from './skip-notes.ts';
export { SUITE_DESCRIPTION, listSpecs, matchTarget, parseSpecList, specSourceLink, type Spec } from './specs.ts';
export { appliesTo, describeEntry, parseSuites, quoteMeta, readSuites, type SuiteEntry, type SuiteRun, type Suites } from './suites.ts';
