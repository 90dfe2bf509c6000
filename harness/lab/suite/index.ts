// harness/lab/suite: the lab conformance suite's machinery. Specs (e2e/lab/) get a
// SpecContext (a namespace, pods, Services, traffic expectations that poll with a
// deadline); runSpecs runs them against a lab with a progress line each; runLab runs
// backends × families on one control plane and writes JUnit and the parity report.
export { SpecContext, NETEXEC_PORTS, unmetRequirement, type LabSpec, type PodRequest, type Requirement, type SpecContextOptions, type SpecHooks } from './spec.ts';
export { Traffic, describeTarget, distinctPods, tally, type Answer, type Outcome, type Protocol, type RequestOptions, type Target, type TrafficOptions } from './traffic.ts';
export { ENDPOINT_LAG_TIMEOUT_MS, SpecFailure, notYet, pass, waitFor, type CheckResult, type WaitOptions } from './wait.ts';
export { runSpecs, type RunSpecsOptions, type SpecResult, type SpecStatus } from './runner.ts';
export { junitXml, type JUnitRun } from './junit.ts';
export { labSkipsFrom, type SkipReasonFor } from './skips.ts';
export { runDir, runLab, teardownEverything, type LabRunOptions, type LabRunOutcome, type LabRunSummary } from './run.ts';
