// The selection for one backend × family: ginkgo's --focus and --skip composed from the
// suite entries that apply, and the proof, against the real spec list, that it is sound:
// every entry is a regular expression ginkgo (Go's RE2) reads the way we do and that does
// not match the empty string; every entry matches at least one real spec; the composed
// skip does not skip everything; something is left to run. A failure names the entry.
import { KpngError, type Backend, type IpFamily } from '../config/index.ts';
import { matchTarget, type Spec } from './specs.ts';
import { appliesTo, describeEntry, type SuiteEntry, type Suites } from './suites.ts';

export interface Selection {
  backend: Backend;
  family: IpFamily;
  focusEntries: SuiteEntry[];
  skipEntries: SuiteEntry[];
  /** For ginkgo --focus. */
  focus: string;
  /** For ginkgo --skip; empty when no entry applies. */
  skip: string;
}

function compose(entries: readonly SuiteEntry[]): string {
  return entries.map((e) => (entries.length === 1 ? e.pattern : `(?:${e.pattern})`)).join('|');
}

export function composeSelection(suites: Suites, backend: Backend, family: IpFamily): Selection {
  const applies = (e: SuiteEntry) => appliesTo(e, backend, family);
  const focusEntries = suites.focus.filter(applies);
  const skipEntries = suites.skip.filter(applies);
  return { backend, family, focusEntries, skipEntries, focus: compose(focusEntries), skip: compose(skipEntries) };
}

export interface VerifiedSelection extends Selection {
  /** The specs this selection runs. */
  selected: Spec[];
  /** How many specs the focus selects before skipping. */
  focused: number;
  /** Per skip entry: how many focused specs it skips. */
  skipCounts: { entry: SuiteEntry; skips: number }[];
}

/** Constructs Go's RE2 does not have, or reads differently; an entry must not use them. */
const NOT_RE2: [RegExp, string][] = [
  [/\(\?[=!]|\(\?<[=!]/, 'a lookaround ((?=, (?!, (?<=, (?<!), which RE2 does not have'],
  [/\\[1-9]/, 'a backreference (\\1 ...), which RE2 does not have'],
  [/\\[pP]\{?[A-Za-z]/, 'a Unicode class, which RE2 and JavaScript read differently'],
  [/\(\?[a-zA-Z]+[:)]/, 'an inline flag group ((?i) ...), which JavaScript reads differently'],
];

/** Why `entry`'s pattern is not a safe regular expression, or undefined. */
export function patternProblem(entry: SuiteEntry): string | undefined {
  for (const [construct, why] of NOT_RE2) if (construct.test(entry.pattern)) return `uses ${why}`;
  let regex: RegExp;
  try {
    regex = new RegExp(entry.pattern);
  } catch (error) {
    return `is not a regular expression: ${(error as Error).message}`;
  }
  if (regex.test('')) {
    return 'matches the empty string, so it matches every spec (an empty alternative: a "|" at the start or end, or "||"?)';
  }
  return undefined;
}

export class SelectionError extends KpngError {
  readonly problems: readonly string[];
  constructor(selection: Pick<Selection, 'backend' | 'family'>, problems: readonly string[]) {
    super('KPNG_ERR_E2E_SELECTION', [`the e2e selection for ${selection.backend}/${selection.family} is not sound:`, ...problems.map((p) => `  - ${p}`)].join('\n'));
    this.name = 'SelectionError';
    this.problems = problems;
  }
}

/** Check `selection` against the real spec list; throws SelectionError naming every bad entry. */
export function verifySelection(selection: Selection, specs: readonly Spec[]): VerifiedSelection {
  const problems: string[] = [];
  const bad = new Set<SuiteEntry>();
  for (const entry of [...selection.focusEntries, ...selection.skipEntries]) {
    const problem = patternProblem(entry);
    if (problem === undefined) continue;
    problems.push(`${describeEntry(entry)} ${problem}`);
    bad.add(entry);
  }
  if (selection.focusEntries.length === 0) problems.push('no focus entry applies, so nothing would run');

  const targets = specs.map(matchTarget);
  const matching = (entry: SuiteEntry) => {
    const re = new RegExp(entry.pattern);
    return targets.flatMap((t, i) => (re.test(t) ? [i] : []));
  };
  const focused = new Set<number>();
  for (const entry of selection.focusEntries.filter((e) => !bad.has(e))) {
    const hits = matching(entry);
    if (hits.length === 0) problems.push(`${describeEntry(entry)} matches none of the ${specs.length} specs of e2e.test: renamed or removed upstream?`);
    for (const i of hits) focused.add(i);
  }
  const skipped = new Set<number>();
  const skipCounts = selection.skipEntries.map((entry) => {
    if (bad.has(entry)) return { entry, skips: 0 };
    const hits = matching(entry);
    const skips = hits.filter((i) => focused.has(i));
    if (skips.length === 0) {
      problems.push(
        `${describeEntry(entry)} skips none of the ${focused.size} specs the focus selects` +
          (hits.length > 0 ? ` (it matches ${hits.length} outside the focus: drop it, or narrow its backends/families)` : ': renamed or removed upstream?'),
      );
    }
    for (const i of skips) skipped.add(i);
    return { entry, skips: skips.length };
  });
  const selected = [...focused].filter((i) => !skipped.has(i)).sort((a, b) => a - b).map((i) => specs[i] as Spec);
  if (focused.size > 0 && selected.length === 0) {
    problems.push(`the composed skip matches all ${focused.size} specs the focus selects, so nothing would run`);
  }
  if (problems.length > 0) throw new SelectionError(selection, problems);
  return { ...selection, selected, focused: focused.size, skipCounts };
}

/**
 * `selection` narrowed to the specs `focus` (a regular expression, e.g. "basic endpoint")
 * also matches: ginkgo gets `focus` as its --focus and the selection's --skip, which must
 * run exactly the selection's specs that `focus` matches; a focus reaching specs outside
 * the selection, or none of it, is refused (KPNG_ERR_E2E_SELECTION), naming what it reached.
 */
export function narrowSelection(selection: VerifiedSelection, focus: string, specs: readonly Spec[]): VerifiedSelection {
  const refuse = (why: string) => new KpngError('KPNG_ERR_E2E_SELECTION', `--focus ${JSON.stringify(focus)} ${why}; accepted: a regular expression matching some of the ${selection.selected.length} specs ${selection.backend}/${selection.family} runs`);
  const problem = patternProblem({ kind: 'focus', where: '--focus', pattern: focus, written: { regex: focus }, reason: 'asked for', families: [] });
  if (problem) throw refuse(problem);
  const re = new RegExp(focus);
  const skip = selection.skip === '' ? undefined : new RegExp(selection.skip);
  const runs = specs.filter((spec) => re.test(matchTarget(spec)) && !skip?.test(matchTarget(spec)));
  const inSelection = new Set(selection.selected.map((s) => s.text));
  const outside = runs.filter((spec) => !inSelection.has(spec.text));
  if (outside.length > 0) throw refuse(`also reaches ${outside.length} specs outside the selection, e.g. ${outside.slice(0, 3).map((s) => JSON.stringify(s.text)).join(', ')}`);
  if (runs.length === 0) throw refuse('matches none of them');
  return { ...selection, focus, selected: runs, focused: runs.length, skipCounts: [] };
}
