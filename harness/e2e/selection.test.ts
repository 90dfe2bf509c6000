import { describe, expect, it } from 'vitest';
import { SelectionError, composeSelection, narrowSelection, patternProblem, verifySelection } from './selection.ts';
import { matchTarget, parseSpecList, specSourceLink, type Spec } from './specs.ts';
import { parseSuites, type SuiteEntry } from './suites.ts';

const spec = (text: string, line = 1): Spec => ({ text, location: `k8s.io/kubernetes@v1.34.4/test/e2e/network/service.go:${line}` });
const specs: Spec[] = [
  spec('[sig-network] Services should serve a basic endpoint from pods [Conformance]'),
  spec('[sig-network] Services should allow creating a basic SCTP service with pod and endpoints [LinuxOnly] [Serial]'),
  spec('[sig-network] Services should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]'),
  spec('[sig-network] [Feature:IPv6DualStack] should create service with ipv4,v6 cluster ip'),
  spec('[sig-network] LoadBalancers [Feature:LoadBalancer] should be able to change the type and ports of a TCP service [Slow]'),
  spec('[sig-storage] EmptyDir volumes should support (root,0644,tmpfs) [LinuxOnly] [NodeConformance] [Conformance]'),
  spec('[sig-apps] Deployment should not break on a deployment with a Serial number [Serial]'),
];

function suites(skips: string): ReturnType<typeof parseSuites> {
  return parseSuites(`focus:\n  - text: '[sig-network]'\n    reason: network\nskip:\n${skips}`, 'skips.yaml');
}

const link = '    link: https://example.com\n';
const base = [
  `  - text: '[Serial]'\n    reason: alone\n${link}`,
  `  - text: '[Feature:LoadBalancer]'\n    reason: no LB\n${link}`,
  `  - text: '[Feature:IPv6DualStack]'\n    families: [ipv4, ipv6]\n    reason: dual only\n${link}`,
  `  - text: 'should preserve source pod IP'\n    backends: [userspace]\n    reason: relayed\n${link}`,
].join('');

describe('composeSelection', () => {
  it('joins the entries that apply to the backend and family, each as a group', () => {
    const s = composeSelection(suites(base), 'nft', 'ipv4');
    expect(s.focus).toBe('\\[sig-network\\]');
    expect(s.skip).toBe('(?:\\[Serial\\])|(?:\\[Feature:LoadBalancer\\])|(?:\\[Feature:IPv6DualStack\\])');
    expect(composeSelection(suites(base), 'nft', 'dual').skip).toBe('(?:\\[Serial\\])|(?:\\[Feature:LoadBalancer\\])');
    expect(composeSelection(suites(base), 'userspace', 'dual').skipEntries.map((e) => e.where)).toEqual(['skips.yaml:5', 'skips.yaml:8', 'skips.yaml:15']);
  });
});

describe('verifySelection', () => {
  it('runs the focused specs the skip leaves, and counts what each entry skips', () => {
    const v = verifySelection(composeSelection(suites(base), 'userspace', 'ipv4'), specs);
    expect(v.focused).toBe(5);
    expect(v.selected.map((s) => s.text)).toEqual(['[sig-network] Services should serve a basic endpoint from pods [Conformance]']);
    expect(v.skipCounts.map((c) => c.skips)).toEqual([1, 1, 1, 1]);
    expect(verifySelection(composeSelection(suites(base), 'nft', 'dual'), specs).selected).toHaveLength(3);
  });

  it("fails on KPNG's bug, a skip list ending in '|' that matched every spec, and names the entry", () => {
    const bad = suites(`${base}  - regex: 'Flaky|'\n    reason: flaky ones\n${link}`);
    const error = (() => {
      try {
        verifySelection(composeSelection(bad, 'iptables', 'ipv4'), specs);
      } catch (e) {
        return e as SelectionError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(SelectionError);
    expect(error?.code).toBe('KPNG_ERR_E2E_SELECTION');
    expect(error?.problems).toEqual([
      'skip entry at skips.yaml:19 (regex "Flaky|") matches the empty string, so it matches every spec (an empty alternative: a "|" at the start or end, or "||"?)',
    ]);
    expect(error?.message.split('\n')[0]).toBe('KPNG_ERR_E2E_SELECTION: the e2e selection for iptables/ipv4 is not sound:');
    // The same regex, as ginkgo would be given it: it really does skip everything.
    const composed = new RegExp(composeSelection(bad, 'iptables', 'ipv4').skip);
    expect(specs.every((s) => composed.test(matchTarget(s)))).toBe(true);
  });

  it('fails on an entry that skips nothing, saying whether it matches outside the focus', () => {
    const stale = suites(`${base}  - text: 'should do what it did in 1.20'\n    reason: renamed since\n${link}  - text: '[sig-storage]'\n    reason: outside\n${link}`);
    expect(() => verifySelection(composeSelection(stale, 'nft', 'ipv4'), specs)).toThrow(
      [
        'KPNG_ERR_E2E_SELECTION: the e2e selection for nft/ipv4 is not sound:',
        '  - skip entry at skips.yaml:19 (text "should do what it did in 1.20") skips none of the 5 specs the focus selects: renamed or removed upstream?',
        '  - skip entry at skips.yaml:22 (text "[sig-storage]") skips none of the 5 specs the focus selects (it matches 1 outside the focus: drop it, or narrow its backends/families)',
      ].join('\n'),
    );
  });

  it('fails when the focus matches nothing, or the skips leave nothing', () => {
    const noFocus = parseSuites("focus:\n  - text: '[sig-netwrk]'\n    reason: typo\n", 'skips.yaml');
    expect(() => verifySelection(composeSelection(noFocus, 'nft', 'ipv4'), specs)).toThrow(
      /focus entry at skips.yaml:2 \(text "\[sig-netwrk\]"\) matches none of the 7 specs of e2e.test: renamed or removed upstream\?/,
    );
    const all = suites(`  - regex: 'sig-network'\n    reason: everything\n${link}`);
    expect(() => verifySelection(composeSelection(all, 'nft', 'ipv4'), specs)).toThrow(/the composed skip matches all 5 specs the focus selects, so nothing would run/);
    const scoped = parseSuites("focus:\n  - text: '[sig-network]'\n    families: [dual]\n    reason: dual only\n", 'skips.yaml');
    expect(() => verifySelection(composeSelection(scoped, 'nft', 'ipv4'), specs)).toThrow(/no focus entry applies, so nothing would run/);
  });

  it('matches against "Kubernetes e2e suite <spec>", as ginkgo does', () => {
    const anchored = suites(`  - regex: '^\\[sig-network\\] LoadBalancers'\n    reason: anchored\n${link}`);
    expect(() => verifySelection(composeSelection(anchored, 'nft', 'ipv4'), specs)).toThrow(/skips none of the 5 specs/);
    const suiteAnchored = suites(`  - regex: '^Kubernetes e2e suite \\[sig-network\\] LoadBalancers'\n    reason: anchored\n${link}`);
    expect(verifySelection(composeSelection(suiteAnchored, 'nft', 'ipv4'), specs).skipCounts[0]?.skips).toBe(1);
  });
});

describe('patternProblem', () => {
  const entry = (pattern: string): SuiteEntry => ({ kind: 'skip', where: 'x:1', written: { regex: pattern }, pattern, reason: 'r', backends: ['nft'], families: ['ipv4'] });
  it.each([
    ['|Serial', /matches the empty string/],
    ['Serial||Slow', /matches the empty string/],
    ['(?:Slow)?', /matches the empty string/],
    ['Slow(?!ly)', /lookaround/],
    ['(a)\\1', /backreference/],
    ['(?i)serial', /inline flag/],
    ['\\p{L}+', /Unicode class/],
    ['[Serial', /is not a regular expression/],
  ])('rejects %j', (pattern, problem) => {
    expect(patternProblem(entry(pattern))).toMatch(problem);
  });
  it.each(['\\[Serial\\]', '\\[Feature:Networking-(?:IPv4|IPv6)\\]', 'a.*b'])('accepts %j', (pattern) => {
    expect(patternProblem(entry(pattern))).toBeUndefined();
  });
});

describe('parseSpecList', () => {
  const output = [
    "The following spec names can be used with 'ginkgo run --focus/skip':",
    '    k8s.io/kubernetes@v1.34.4/test/e2e/network/service.go:1027: [sig-network] Services should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]',
    '    k8s.io/kubernetes@v1.34.4/test/e2e/network/dns.go:79: [sig-network] DNS should provide DNS for the cluster [Provider:GCE]',
    '',
  ].join('\n');

  it('reads location and full text of each spec from e2e.test --list-tests', () => {
    expect(parseSpecList(output)).toEqual([
      { location: 'k8s.io/kubernetes@v1.34.4/test/e2e/network/service.go:1027', text: '[sig-network] Services should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]' },
      { location: 'k8s.io/kubernetes@v1.34.4/test/e2e/network/dns.go:79', text: '[sig-network] DNS should provide DNS for the cluster [Provider:GCE]' },
    ]);
  });

  it('refuses output that is not a spec list', () => {
    expect(() => parseSpecList('flag provided but not defined: -list-tests')).toThrow(/^KPNG_ERR_E2E_SPECS: e2e.test --list-tests printed no spec list/);
    expect(() => parseSpecList(`${output}garbage\n`)).toThrow(/cannot read this line of e2e.test --list-tests: "garbage"/);
  });

  it('links a spec to its source at the pinned version', () => {
    expect(specSourceLink(parseSpecList(output)[0]!, 'v1.34.4')).toBe('https://github.com/kubernetes/kubernetes/blob/v1.34.4/test/e2e/network/service.go#L1027');
    expect(specSourceLink({ location: 'sigs.k8s.io/other/x.go:1' }, 'v1.34.4')).toBeUndefined();
  });
});

describe('narrowSelection (--focus on top of a verified selection)', () => {
  const verified = verifySelection(composeSelection(suites(base), 'nft', 'ipv4'), specs);

  it('runs the selection’s specs the focus matches, with the focus as ginkgo’s --focus and the selection’s --skip', () => {
    const narrowed = narrowSelection(verified, 'basic endpoint', specs);
    expect(narrowed.selected.map((s) => s.text)).toEqual(['[sig-network] Services should serve a basic endpoint from pods [Conformance]']);
    expect({ focus: narrowed.focus, skip: narrowed.skip }).toEqual({ focus: 'basic endpoint', skip: verified.skip });
  });

  it('refuses a focus that reaches specs outside the selection (ginkgo would run them), naming them', () => {
    expect(() => narrowSelection(verified, 'EmptyDir|basic endpoint', specs)).toThrow(/KPNG_ERR_E2E_SELECTION: --focus "EmptyDir\|basic endpoint" also reaches 1 specs outside the selection, e\.g\. "\[sig-storage\] EmptyDir/);
  });

  it('refuses a focus matching none of the selection, or the empty string', () => {
    expect(() => narrowSelection(verified, 'LoadBalancers', specs)).toThrow(/matches none of them; accepted: a regular expression matching some of the 2 specs nft\/ipv4 runs/);
    expect(() => narrowSelection(verified, 'basic|', specs)).toThrow(/matches the empty string/);
  });
});
