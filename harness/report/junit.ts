// JUnit XML → test cases. Reads what Ginkgo writes (e2e.test --report-dir's junit_01.xml,
// ginkgo --junit-report), where each <testcase> has a status attribute, and the plain
// JUnit form, where the status is the presence of <failure>, <error> or <skipped>.
import { KpngError } from '../config/index.ts';
import { parseXml, type XmlElement } from './xml.ts';

export type CaseStatus = 'passed' | 'failed' | 'skipped';

export interface JUnitCase {
  /** The spec's full text: Ginkgo's "[It] " prefix removed, no surrounding whitespace (Ginkgo's JUnit trims it, e2e.test --list-tests does not). */
  name: string;
  /** spec: a test; setup: a suite node (BeforeSuite, ReportAfterSuite, ...), which fails the whole run when it fails. */
  kind: 'spec' | 'setup';
  status: CaseStatus;
  /** As the reporter wrote it: passed, failed, skipped, pending, panicked, timedout, interrupted, aborted, error. */
  detail: string;
  /** Seconds. */
  time: number;
  /** Why it failed or was skipped (the first lines of the failure text, or the skip message). */
  message?: string;
  suite: string;
}

export interface JUnitReport {
  suites: { name: string; tests: number; timestamp?: string }[];
  cases: JUnitCase[];
}

const FAILED_DETAILS = new Set(['failed', 'panicked', 'timedout', 'interrupted', 'aborted', 'error']);
const SKIPPED_DETAILS = new Set(['skipped', 'pending', 'disabled']);
const SETUP = /^\[(SynchronizedBeforeSuite|BeforeSuite|SynchronizedAfterSuite|AfterSuite|ReportBeforeSuite|ReportAfterSuite|DeferCleanup \(Suite\))\]/;

function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

function firstLines(text: string, lines = 6, chars = 800): string {
  const cut = text.trim().split('\n').slice(0, lines).join('\n');
  return cut.length > chars ? `${cut.slice(0, chars)}…` : cut;
}

function readCase(element: XmlElement, suite: string, file: string): JUnitCase {
  const raw = element.attributes.name;
  if (raw === undefined) throw new KpngError('KPNG_ERR_JUNIT', `${file}: a <testcase> in suite ${JSON.stringify(suite)} has no name`);
  const failure = child(element, 'failure') ?? child(element, 'error');
  const skipped = child(element, 'skipped');
  const detail = element.attributes.status ?? (failure ? failure.name : skipped ? 'skipped' : 'passed');
  let status: CaseStatus = 'passed';
  if (FAILED_DETAILS.has(detail) || failure) status = 'failed';
  else if (SKIPPED_DETAILS.has(detail) || skipped) status = 'skipped';
  const why = status === 'failed' ? (failure?.text || failure?.attributes.message) : status === 'skipped' ? (skipped?.attributes.message ?? skipped?.text) : undefined;
  const time = Number(element.attributes.time ?? '0');
  return {
    name: raw.replace(/^\[It\] /, '').trim(),
    kind: SETUP.test(raw) ? 'setup' : 'spec',
    status,
    detail,
    time: Number.isFinite(time) ? time : 0,
    ...(why ? { message: firstLines(why) } : {}),
    suite,
  };
}

/** Parse one JUnit file. `file` names it in errors. */
export function parseJUnit(xml: string, file = 'JUnit'): JUnitReport {
  const root = parseXml(xml, file);
  const suites = root.name === 'testsuites' ? root.children.filter((c) => c.name === 'testsuite') : root.name === 'testsuite' ? [root] : undefined;
  if (suites === undefined) {
    throw new KpngError('KPNG_ERR_JUNIT', `${file}: the root element is <${root.name}>; accepted: <testsuites> or <testsuite>`);
  }
  const report: JUnitReport = { suites: [], cases: [] };
  for (const suite of suites) {
    const name = suite.attributes.name ?? '';
    const cases = suite.children.filter((c) => c.name === 'testcase').map((c) => readCase(c, name, file));
    report.suites.push({ name, tests: cases.length, ...(suite.attributes.timestamp ? { timestamp: suite.attributes.timestamp } : {}) });
    report.cases.push(...cases);
  }
  return report;
}
